import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

extension TestClientProtocol {
    /// A request to the admin API with `key` (the configured one by default; nil: no Authorization).
    func admin(_ method: HTTPRequest.Method, _ uri: String, key: String? = AdminUsersTests.adminKey) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: method, headers: headers)
    }
}

/// The admin API's users and sessions: look a user up, list and end sessions, revoke everything,
/// delete, find users a page at a time — behind the admin key, every answer in the contract's format.
@Suite struct AdminUsersTests {
    static let adminKey = "admin-key-0123456789abcdef0123456789abcdef"

    static func harness(_ provider: FakeProvider? = nil) throws -> Harness {
        let providers = try provider.map { try TokenExchangeTests.harness($0, only: ["apple"]).configuration.providers } ?? []
        return Harness {
            $0.adminAPIKey = Self.adminKey
            $0.providers = providers
            $0.introspectionClients = [apiClient]
        }
    }

    static let routes: [(HTTPRequest.Method, String)] = [
        (.get, "/admin/v1/users"), (.get, "/admin/v1/users/u-1"), (.get, "/admin/v1/users/u-1/sessions"),
        (.post, "/admin/v1/users/u-1/revoke"), (.delete, "/admin/v1/users/u-1"), (.delete, "/admin/v1/sessions/s-1"),
        (.post, "/admin/v1/users/u-1/disable"), (.post, "/admin/v1/users/u-1/enable"), (.put, "/admin/v1/users/u-1/claims"),
        (.post, "/admin/v1/users/import"),
    ]

    @Test func everyRouteIsOffWithoutAKeyAndRefusesAMissingOrWrongOne() async throws {
        try await Harness().withApp { client, _ in
            for (method, uri) in Self.routes {
                let response = try await client.admin(method, uri)
                #expect(response.status == .notFound && response.errorBody?.error == .notFound, "\(method) \(uri)")
            }
        }
        try await Self.harness().withApp { client, _ in
            let user = try await client.signIn()
            for (method, uri) in Self.routes {
                for key in [nil, Self.adminKey + "x", user.accessToken] as [String?] {
                    let response = try await client.admin(method, uri, key: key)
                    #expect(response.status == .unauthorized && response.errorBody?.error == .invalidToken, "\(method) \(uri)")
                }
            }
            #expect(try await client.me(user.accessToken).status == .ok, "nothing was revoked")
        }
    }

    @Test func aUserIsShownWithIdentitiesDevicesAndEntitlements() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let tokens = try await client.signIn("device-admin-1")
                let idToken = TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: TokenExchangeTests.rawNonce, now: harness.clock.now()))
                #expect(try await client.link(idToken, provider: "apple", nonce: TokenExchangeTests.rawNonce, token: tokens.accessToken).status == .created)
                let response = try await client.admin(.get, "/admin/v1/users/\(tokens.user.id)")
                #expect(response.status == .ok, "\(response.text)")
                #expect(response.headers[.cacheControl] == "no-store")
                let body = try response.decode(AdminUserResponse.self)
                #expect(body.id == tokens.user.id && !body.anon && body.createdAt == harness.clock.now() && body.tokenVersion == 0)
                #expect(body.identities == [AdminIdentity(
                    provider: "apple", subject: "001234.0123456789abcdef0123456789abcdef.0123",
                    email: "abc123@privaterelay.appleid.com", linkedAt: harness.clock.now())])
                #expect(body.devices == [AdminDevice(
                    id: "device-admin-1", platform: "ios", createdAt: harness.clock.now(), lastSignInAt: harness.clock.now(), revokedAt: nil)])
                #expect(body.ent.isEmpty)
                #expect(!response.text.contains(validSecret), "never a device secret")
                #expect(response.text.contains(#""revoked_at":null"#), "absent values are null")

                // The path is percent-decoded: every byte of the id escaped still names the user.
                let escaped = tokens.user.id.utf8.map { String(format: "%%%02X", $0) }.joined()
                let decoded = try await client.admin(.get, "/admin/v1/users/\(escaped)")
                #expect(decoded.status == .ok && (try? decoded.decode(AdminUserResponse.self).id) == tokens.user.id, "\(decoded.text)")

                let unknown = try await client.admin(.get, "/admin/v1/users/no-such-user")
                #expect(unknown.status == .notFound && unknown.errorBody?.error == .notFound)
                for bad in [String(repeating: "a", count: 129), "a%20b", "%C3%A9", "a%zz", "%FF"] {
                    let malformed = try await client.admin(.get, "/admin/v1/users/\(bad)")
                    #expect(malformed.status == .badRequest && malformed.errorBody?.error == .invalidRequest, "\(bad): \(malformed.text)")
                }
            }
        }
    }

    @Test func sessionsAreListedEndedOnesTooAndOneCanBeEnded() async throws {
        let harness = try Self.harness()
        try await harness.withApp { client, _ in
            let first = try await client.signIn("device-admin-2")
            let second = try await client.signIn("device-admin-2")
            #expect(try await client.logout(first.accessToken, scope: "local").status == .noContent)
            var sessions = try await client.admin(.get, "/admin/v1/users/\(first.user.id)/sessions").decode(AdminSessionsResponse.self).sessions
            #expect(sessions.map(\.id) == [sid(of: first.accessToken), sid(of: second.accessToken)])
            #expect(sessions[0].revokedAt == harness.clock.now() && sessions[1].revokedAt == nil)
            #expect(sessions[1].deviceID == "device-admin-2" && sessions[1].amr == ["device"])

            // Ending the live one: its access token and refresh token die, and the device that opened it.
            let id = sid(of: second.accessToken)
            #expect(try await client.admin(.delete, "/admin/v1/sessions/\(id)").status == .noContent)
            #expect(try await client.me(second.accessToken).status == .unauthorized)
            #expect(try await client.refresh(second.refreshToken).status == .badRequest)
            #expect(try await DeviceRevocationTests().deviceSignIn(client, "device-admin-2").status == .unauthorized, "its device is revoked")
            #expect(try await client.admin(.delete, "/admin/v1/sessions/\(id)").status == .noContent, "ending it again changes nothing")
            #expect(try await client.admin(.delete, "/admin/v1/sessions/no-such-session").status == .notFound)
            #expect(try await client.admin(.delete, "/admin/v1/sessions/\(String(repeating: "s", count: 200))").status == .badRequest)
            sessions = try await client.admin(.get, "/admin/v1/users/\(first.user.id)/sessions").decode(AdminSessionsResponse.self).sessions
            #expect(sessions.allSatisfy { $0.revokedAt != nil })
            #expect(try await client.admin(.get, "/admin/v1/users/no-such-user/sessions").status == .notFound)
        }
    }

    @Test func revokingAUserEndsEverySessionAndAccessTokenAtOnceWithOneFeedEvent() async throws {
        let harness = try Self.harness()
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-admin-3")
            let again = try await client.signIn("device-admin-3")
            let other = try await client.signIn("device-admin-4")
            let before = try await client.feed()
            #expect(try await client.admin(.post, "/admin/v1/users/\(user.user.id)/revoke").status == .noContent)
            for tokens in [user, again] {
                #expect(try await client.me(tokens.accessToken).status == .unauthorized)
                #expect(try await client.refresh(tokens.refreshToken).status == .badRequest)
            }
            #expect(try await client.me(other.accessToken).status == .ok, "another user is untouched")
            let events = try await client.feed("?after=\(before.cursor)").events
            #expect(events.map(\.type) == ["user"] && events.first?.sub == user.user.id && events.first?.tv == 1)
            let shown = try await client.admin(.get, "/admin/v1/users/\(user.user.id)").decode(AdminUserResponse.self)
            #expect(shown.tokenVersion == 1 && shown.devices.allSatisfy { $0.revokedAt != nil }, "the devices of its sessions are revoked")
            #expect(try await client.admin(.post, "/admin/v1/users/no-such-user/revoke").status == .notFound)
        }
    }

    @Test func deletingAUserDeletesEverythingOfIt() async throws {
        let harness = try Self.harness()
        try await harness.withApp { client, services in
            let user = try await client.signIn("device-admin-5")
            #expect(try await client.admin(.delete, "/admin/v1/users/\(user.user.id)").status == .noContent)
            #expect(try await client.me(user.accessToken).status == .unauthorized)
            #expect(try await client.admin(.get, "/admin/v1/users/\(user.user.id)").status == .notFound)
            #expect(try await client.admin(.delete, "/admin/v1/users/\(user.user.id)").status == .notFound)
            #expect(try await services.store.deviceOwner(deviceID: "device-admin-5") == nil)
        }
    }

    @Test func usersAreFoundByIdentityDeviceAndCreationTimeAPageAtATime() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                var ids: [String] = []
                for index in 0..<5 {
                    ids.append(try await client.signIn("device-find-\(index)").user.id)
                    harness.clock.advance(by: 10)
                }
                let apple = try await client.exchange(
                    TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: TokenExchangeTests.rawNonce, now: harness.clock.now())),
                    provider: "apple", nonce: TokenExchangeTests.rawNonce).decode(TokenResponse.self)
                ids.append(apple.user.id)

                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await client.admin(.get, "/admin/v1/users?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                    #expect(page.status == .ok, "\(page.text)")
                    let body = try page.decode(AdminUsersResponse.self)
                    seen += body.users.map(\.id)
                    cursor = body.nextCursor
                } while cursor != nil && seen.count < 20
                #expect(seen == ids, "every user once, oldest first")

                func found(_ query: String) async throws -> [String] {
                    try await client.admin(.get, "/admin/v1/users?\(query)").decode(AdminUsersResponse.self).users.map(\.id)
                }
                #expect(try await found("provider=apple&subject=001234.0123456789abcdef0123456789abcdef.0123") == [apple.user.id])
                #expect(try await found("device_id=device-find-3") == [ids[3]])
                #expect(try await found("created_after=2027-01-15T08:00:10Z&created_before=2027-01-15T08:00:30Z") == [ids[1], ids[2]])
                #expect(try await found("device_id=device-find-3&created_after=2027-01-15T08:00:40Z").isEmpty)

                for bad in ["provider=apple", "subject=x", "created_after=yesterday", "limit=0", "limit=101", "limit=ten",
                            "cursor=nope", "device_id=a&device_id=b", "device_id=" + String(repeating: "d", count: 600)] {
                    let response = try await client.admin(.get, "/admin/v1/users?\(bad)")
                    #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(bad): \(response.text)")
                }
            }
        }
    }

    @Test func everyAdminRequestIsAuditedWithTheUserOrSessionItNames() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-admin-audit-\(UUID().uuidString).jsonl").path
        var harness = try Self.harness()
        harness.configuration.auditLog = .file(path: path)
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-admin-6")
            _ = try await client.admin(.get, "/admin/v1/users/\(user.user.id)")
            _ = try await client.admin(.delete, "/admin/v1/sessions/\(sid(of: user.accessToken))")
            _ = try await client.admin(.get, "/admin/v1/users/\(user.user.id)", key: "wrong-key-0123456789abcdef0123456789abcdef")
        }
        let events = try AuditTests.lines(path).map(\.event).filter { $0.type == .adminAction }
        #expect(events.map { $0.details["action"] } == ["GET /admin/v1/users/{id}", "DELETE /admin/v1/sessions/{id}", "GET /admin/v1/users/{id}"])
        #expect(events.map(\.outcome) == [.success, .success, .failure])
        #expect(events[0].userID != nil && events[0].sessionID == nil)
        #expect(events[1].sessionID != nil && events[1].userID == nil)
    }
}
