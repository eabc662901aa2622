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
    /// A JSON request to the admin API with the configured key.
    func admin(_ method: HTTPRequest.Method, _ uri: String, json body: String) async throws -> TestResponse {
        try await execute(
            uri: uri, method: method,
            headers: [.authorization: "Bearer \(AdminUsersTests.adminKey)", .contentType: "application/json"],
            body: ByteBuffer(string: body))
    }
}

/// Disabling and enabling users: a disabled user signs in by no method and refreshes nothing, with
/// one answer everywhere; its access tokens die at once with one feed event; enabling it, or its
/// `until` passing, lets it sign in again.
@Suite struct AdminDisableTests {
    static let refusal = "this account is disabled"

    static func expectDisabled(_ response: TestResponse, _ what: String, until: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = until.map { "\(refusal) until \($0)" } ?? refusal
        #expect(response.status == .forbidden && response.errorBody?.error == .forbidden && response.errorBody?.errorDescription == text,
                "\(what): \(response.status) \(response.text)", sourceLocation: sourceLocation)
    }

    @Test func aDisabledUserSignsInByNoMethodAndRefreshesNothingUntilEnabled() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            let harness = try AdminUsersTests.harness(provider)
            try await harness.withApp { client, _ in
                let device = try await client.signIn("device-disable-1")
                func appleToken(_ nonce: String) -> String {
                    TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: nonce, now: harness.clock.now()))
                }
                #expect(try await client.link(appleToken("nonce-disable-0"), provider: "apple", nonce: "nonce-disable-0", token: device.accessToken).status == .created)
                let apple = try await client.exchange(appleToken("nonce-disable-1"), provider: "apple", nonce: "nonce-disable-1").decode(TokenResponse.self)
                let other = try await client.signIn("device-disable-2")
                let before = try await client.feed()
                let id = device.user.id

                #expect(try await client.admin(.post, "/admin/v1/users/\(id)/disable").status == .noContent)

                // Every access token died at once, with one user event for the verifiers.
                for tokens in [device, apple] {
                    #expect(try await client.me(tokens.accessToken).status == .unauthorized)
                    #expect(try await client.introspect(tokens.accessToken).text == #"{"active":false}"#)
                }
                let events = try await client.feed("?after=\(before.cursor)").events
                #expect(events.map(\.type) == ["user"] && events.first?.sub == id && events.first?.tv == 1)
                // No method signs it in, nor does a refresh, each with the same answer; nothing is created.
                Self.expectDisabled(try await DeviceRevocationTests().deviceSignIn(client, "device-disable-1"), "device sign-in")
                Self.expectDisabled(try await client.exchange(appleToken("nonce-disable-2"), provider: "apple", nonce: "nonce-disable-2"), "token exchange")
                Self.expectDisabled(try await client.refresh(device.refreshToken), "refresh")
                Self.expectDisabled(try await client.refresh(apple.refreshToken), "refresh")
                #expect(try await client.me(other.accessToken).status == .ok, "another user is untouched")
                let shown = try await client.admin(.get, "/admin/v1/users/\(id)")
                let body = try shown.decode(AdminUserResponse.self)
                #expect(body.disabled == AdminDisablement(since: harness.clock.now(), until: nil) && body.tokenVersion == 1)
                #expect(shown.text.contains(#""until":null"#))
                #expect(body.devices.allSatisfy { $0.revokedAt == nil }, "its devices stay registered")
                let sessions = try await client.admin(.get, "/admin/v1/users/\(id)/sessions").decode(AdminSessionsResponse.self).sessions
                #expect(sessions.count == 2 && sessions.allSatisfy { $0.revokedAt != nil }, "every session ended, none opened")

                // Enabled: every method signs in again; the ended sessions stay ended.
                #expect(try await client.admin(.post, "/admin/v1/users/\(id)/enable").status == .noContent)
                #expect(try await client.admin(.post, "/admin/v1/users/\(id)/enable").status == .noContent, "enabling again changes nothing")
                let back = try await DeviceRevocationTests().deviceSignIn(client, "device-disable-1")
                #expect(back.status == .ok && (try? back.decode(TokenResponse.self).user.id) == id, "\(back.text)")
                #expect(try await client.exchange(appleToken("nonce-disable-3"), provider: "apple", nonce: "nonce-disable-3").status == .ok)
                #expect(try await client.refresh(device.refreshToken).status == .badRequest)
                let enabled = try await client.admin(.get, "/admin/v1/users/\(id)")
                #expect(enabled.text.contains(#""disabled":null"#), "\(enabled.text)")
            }
        }
    }

    @Test func aDisablementUntilATimeLapsesByItself() async throws {
        let harness = try AdminUsersTests.harness()
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-disable-3")
            let until = harness.clock.now().addingTimeInterval(3600)
            let text = until.formatted(Date.ISO8601FormatStyle())
            #expect(try await client.admin(.post, "/admin/v1/users/\(user.user.id)/disable", json: #"{"until":"\#(text)"}"#).status == .noContent)
            Self.expectDisabled(try await DeviceRevocationTests().deviceSignIn(client, "device-disable-3"), "device sign-in", until: text)
            Self.expectDisabled(try await client.refresh(user.refreshToken), "refresh", until: text)
            let shown = try await client.admin(.get, "/admin/v1/users/\(user.user.id)").decode(AdminUserResponse.self)
            #expect(shown.disabled?.until == until)

            harness.clock.advance(by: 3600)
            #expect(try await DeviceRevocationTests().deviceSignIn(client, "device-disable-3").status == .ok)
            #expect(try await client.admin(.get, "/admin/v1/users/\(user.user.id)").decode(AdminUserResponse.self).disabled == nil)
            #expect(try await client.refresh(user.refreshToken).status == .badRequest, "its sessions stay ended")
        }
    }

    @Test func aBadDisableRequestIsRefusedAndChangesNothing() async throws {
        let harness = try AdminUsersTests.harness()
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-disable-4")
            let uri = "/admin/v1/users/\(user.user.id)/disable"
            let past = harness.clock.now().addingTimeInterval(-1).formatted(Date.ISO8601FormatStyle())
            let now = harness.clock.now().formatted(Date.ISO8601FormatStyle())
            for body in [#"{"until":"\#(past)"}"#, #"{"until":"\#(now)"}"#, #"{"until":null}"#, #"{"until":"tomorrow"}"#,
                         #"{"until":1800000000}"#, "[]", #"{"until":"2027-01-01T00:00:00Z","until":"2028-01-01T00:00:00Z"}"#, "{"] {
                let response = try await client.admin(.post, uri, json: body)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(body): \(response.text)")
            }
            let text = try await client.execute(
                uri: uri, method: .post, headers: [.authorization: "Bearer \(AdminUsersTests.adminKey)", .contentType: "text/plain"],
                body: ByteBuffer(string: "{}"))
            #expect(text.status == .unsupportedMediaType)
            #expect(try await client.me(user.accessToken).status == .ok, "nothing was disabled")
            for path in ["disable", "enable"] {
                #expect(try await client.admin(.post, "/admin/v1/users/no-such-user/\(path)").status == .notFound)
                #expect(try await client.admin(.post, "/admin/v1/users/a%20b/\(path)").status == .badRequest)
            }
            #expect(try await client.admin(.post, uri, json: "{}").status == .noContent, "an empty object: until enabled")
        }
    }

    @Test func aRefusedSignInOfADisabledUserIsAuditedAndCounted() async throws {
        let (harness, path) = try AuditTests.harness(nil, table: false)
        try await harness.withApp(.live) { client, services in
            let user = try await client.signIn("device-disable-5")
            #expect(try await client.admin(.post, "/admin/v1/users/\(user.user.id)/disable").status == .noContent)
            Self.expectDisabled(try await DeviceRevocationTests().deviceSignIn(client, "device-disable-5"), "device sign-in")
            Self.expectDisabled(try await client.refresh(user.refreshToken), "refresh")
            let samples = Sample.parse(services.metrics.exposition())
            #expect(samples.value("tegata_sign_ins_total", ["method": "device", "result": "user_disabled"]) == 1)
            #expect(samples.value("tegata_refreshes_total", ["result": "user_disabled"]) == 1)
        }
        let refused = try AuditTests.lines(path).map(\.event).filter { $0.type == .signIn && $0.outcome == .failure }
        #expect(refused.count == 1 && refused.first?.details["reason"] == "user_disabled" && refused.first?.userID != nil)
    }
}

/// A session opened while its user was being disabled (the disablement did not see it, as on
/// PostgreSQL when the sign-in read the user just before the disablement committed): its first
/// refresh ends it instead of issuing a token of the new token version.
@Suite struct DisabledRefreshRaceTests {
    @Test func aSessionTheDisablementMissedIsEndedAtItsRefresh() async throws {
        let harness = Harness()
        try await harness.withApp { client, services in
            let user = try await client.signIn("device-disable-race")
            let sid = sid(of: user.accessToken)
            // The interleaving: the refresh reads the user after the disablement committed, but the
            // disablement ended the sessions it saw before this one was opened.
            let grant = RefreshGrant(
                store: UserDisabledAfterRead(inner: services.store, now: harness.clock.now()), issuer: services.tokenIssuer,
                clock: harness.clock)
            await #expect(throws: Disablement(since: harness.clock.now(), until: nil).refusal) {
                try await grant.refresh(user.refreshToken)
            }
            #expect(try await services.store.session(id: sid)?.revokedAt != nil, "the session was ended")
            #expect(try await client.refresh(user.refreshToken).status == .badRequest)
        }
    }

    /// The real store, but the user a refresh reads is disabled.
    struct UserDisabledAfterRead: SessionStore, AccountStore {
        let inner: any TegataStore
        let now: Date

        func refresh(_ command: RefreshCommand) async throws -> RefreshOutcome {
            let outcome = try await inner.refresh(command)
            guard case .issued(var record, let session) = outcome else { return outcome }
            record.user.disabled = Disablement(since: now, until: nil)
            return .issued(record, session)
        }

        func authState(sessionID: String, jti: String?, withUser: Bool) async throws -> AuthState? {
            try await inner.authState(sessionID: sessionID, jti: jti, withUser: withUser)
        }
        func touchSession(id: String, now: Date) async throws -> Bool { try await inner.touchSession(id: id, now: now) }
        func setSessionClaims(sessionID: String, claims: [String: JSONValue]) async throws -> Bool {
            try await inner.setSessionClaims(sessionID: sessionID, claims: claims)
        }
        func liveSessions(userID: String, now: Date, idleLifetime: TimeInterval) async throws -> [Session] {
            try await inner.liveSessions(userID: userID, now: now, idleLifetime: idleLifetime)
        }
        func sessions(ofUser userID: String) async throws -> [Session] { try await inner.sessions(ofUser: userID) }
        func session(id: String) async throws -> Session? { try await inner.session(id: id) }
        func revokeSession(id: String, ownedBy userID: String?, devices: DeviceRevocation, now: Date, eventUntil: Date) async throws -> Bool {
            try await inner.revokeSession(id: id, ownedBy: userID, devices: devices, now: now, eventUntil: eventUntil)
        }
        func revokeSessions(
            userID: String, except: String?, bumpTokenVersion: Bool, devices: DeviceRevocation, now: Date, eventUntil: Date
        ) async throws {
            try await inner.revokeSessions(
                userID: userID, except: except, bumpTokenVersion: bumpTokenVersion, devices: devices, now: now, eventUntil: eventUntil)
        }
        func revokeAccessToken(jti: String, until: Date, now: Date) async throws { try await inner.revokeAccessToken(jti: jti, until: until, now: now) }
        func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome { try await inner.deviceSignIn(command) }
        func identitySignIn(_ command: IdentitySignInCommand) async throws -> IdentitySignInOutcome { try await inner.identitySignIn(command) }
        func linkIdentity(_ identity: ExternalIdentity, toUser userID: String, now: Date) async throws -> LinkIdentityOutcome {
            try await inner.linkIdentity(identity, toUser: userID, now: now)
        }
        func unlinkIdentity(provider: String, fromUser userID: String) async throws -> UnlinkIdentityOutcome {
            try await inner.unlinkIdentity(provider: provider, fromUser: userID)
        }
        func rememberSingleUse(key: String, until: Date, now: Date) async throws -> Bool {
            try await inner.rememberSingleUse(key: key, until: until, now: now)
        }
        func deleteUser(id: String, now: Date, eventUntil: Date) async throws -> Bool { try await inner.deleteUser(id: id, now: now, eventUntil: eventUntil) }
        func deviceOwner(deviceID: String) async throws -> String? { try await inner.deviceOwner(deviceID: deviceID) }
        func userRecord(userID: String) async throws -> UserRecord? { try await inner.userRecord(userID: userID) }
        func identities(ofUser userID: String) async throws -> [StoredIdentity] { try await inner.identities(ofUser: userID) }
        func countUsers() async throws -> Int { try await inner.countUsers() }
        func devices(ofUser userID: String) async throws -> [DeviceSummary] { try await inner.devices(ofUser: userID) }
        func findUsers(_ query: UserQuery) async throws -> UserPage { try await inner.findUsers(query) }
        func disableUser(id: String, until: Date?, now: Date, eventUntil: Date) async throws -> Bool {
            try await inner.disableUser(id: id, until: until, now: now, eventUntil: eventUntil)
        }
        func enableUser(id: String) async throws -> Bool { try await inner.enableUser(id: id) }
        func setAppClaims(userID: String, claims: [String: JSONValue]) async throws -> Bool {
            try await inner.setAppClaims(userID: userID, claims: claims)
        }
        func importUsers(_ records: [UserImport], now: Date) async throws -> [UserImportOutcome] {
            try await inner.importUsers(records, now: now)
        }
    }
}
