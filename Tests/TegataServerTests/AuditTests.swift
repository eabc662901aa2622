import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Synchronization
import Testing

/// The tokens and secrets a test has seen, to look for in what the server wrote.
final class Secrets: Sendable {
    private let values: Mutex<[String]>
    init(_ initial: [String]) { values = Mutex(initial) }
    func add(_ more: [String]) { values.withLock { $0 += more } }
    var all: [String] { values.withLock { $0 } }
}

/// The audit trail: every security-relevant action writes one event with its fields to the JSON-line
/// stream and the audit table, over a real socket (the client address is the socket's), and no
/// event carries a token, a secret or a device id.
@Suite struct AuditTests {
    static let adminKey = "admin-key-0123456789abcdef0123456789abcdef"

    /// With `provider`: Apple's preset takes its keys from it (its services then own an HTTP client
    /// that only running them shuts down).
    static func harness(_ provider: FakeProvider?, table: Bool = true) throws -> (Harness, String) {
        let providers = try provider.map { try TokenExchangeTests.harness($0, only: ["apple"]).configuration.providers } ?? []
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-audit-\(UUID().uuidString).jsonl").path
        let harness = Harness { configuration in
            configuration.port = 0
            configuration.providers = providers
            configuration.auditLog = .file(path: path)
            configuration.auditTable = table
            configuration.adminAPIKey = Self.adminKey
            configuration.revenueCatWebhookAuth = revenueCatAuth
            configuration.allowedOrigins = ["https://app.example.com"]
            configuration.issuer = "https://auth.example.com"
            configuration.audience = configuration.issuer
            configuration.rateLimits.overrides[.failedSignIns] = RateLimitPolicy(name: RateLimitName.failedSignIns.rawValue, limit: 2, period: 60)
        }
        return (harness, path)
    }

    static func lines(_ path: String) throws -> [(text: String, event: AuditEvent)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in (String(line), try AuditLine.decode(Data(line.utf8))) }
    }

    @Test func everySecurityActionWritesOneEventWithItsFieldsAndNoSecret() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            let (harness, path) = try Self.harness(provider)
            let secrets = Secrets([validSecret, "device-audit-1", "device-audit-2", Self.adminKey, revenueCatAuth, "wrong-secret-0123456789abcdef0123"])
            let (user, firstSession, events) = try await harness.withApp(.live) { client, services -> (String, String, [AuditEvent]) in
                func device(_ id: String, secret: String = validSecret, requestID: String? = nil) async throws -> TestResponse {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let requestID { headers[HTTPField.Name("X-Request-Id")!] = requestID }
                    return try await client.execute(uri: "/v1/auth/device", method: .post, headers: headers, body: deviceBody(id, secret: secret))
                }
                // Sign-in: new user, then the same device again; a wrong secret twice, then the limit.
                let created = try await device("device-audit-1", requestID: "req-audit-0001")
                #expect(created.status == .created)
                let first = try created.decode(TokenResponse.self)
                #expect(try await device("device-audit-1").status == .ok)
                for _ in 0..<2 {
                    #expect(try await device("device-audit-1", secret: "wrong-secret-0123456789abcdef0123").status == .unauthorized)
                }
                for _ in 0..<3 {
                    #expect(try await device("device-audit-1", secret: "wrong-secret-0123456789abcdef0123").status == .tooManyRequests)
                }
                harness.clock.advance(by: 60)  // the failed-sign-ins allowance is whole again
                // Two refreshes (not audited), then the first, spent token again: replay, session revoked.
                let rotated = try await client.refreshed(first.refreshToken)
                let again = try await client.refreshed(rotated.refreshToken)
                #expect(try await client.refresh(first.refreshToken).status == .badRequest)
                secrets.add([first.accessToken, first.refreshToken, rotated.accessToken, rotated.refreshToken, again.accessToken, again.refreshToken])

                // Link and unlink an identity, log out.
                let second = try await client.signIn("device-audit-1")
                let idToken = TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: TokenExchangeTests.rawNonce, now: harness.clock.now()))
                secrets.add([second.accessToken, second.refreshToken, idToken])
                #expect(try await client.link(idToken, provider: "apple", nonce: TokenExchangeTests.rawNonce, token: second.accessToken).status == .created)
                #expect(try await client.link(idToken, provider: "apple", nonce: TokenExchangeTests.rawNonce, token: second.accessToken).status == .badRequest)
                #expect(try await client.authorized("/v1/me/identities/apple", .delete, token: second.accessToken).status == .noContent)
                #expect(try await client.logout(second.accessToken, scope: "local").status == .noContent)

                // One session ends another; RFC 7009 revokes a refresh token and an access token.
                let third = try await client.signIn("device-audit-1")
                let fourth = try await client.signIn("device-audit-1")
                let fifth = try await client.signIn("device-audit-1")
                secrets.add([third.accessToken, third.refreshToken, fourth.accessToken, fourth.refreshToken, fifth.accessToken, fifth.refreshToken])
                #expect(try await client.authorized("/v1/sessions/\(sid(of: fourth.accessToken))", .delete, token: third.accessToken).status == .noContent)
                for token in [fourth.refreshToken, third.refreshToken, fifth.accessToken, "not-a-token"] {
                    let revoked = try await client.execute(
                        uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                        body: form(["token": token]))
                    #expect(revoked.status == .ok)
                }

                // A web session opened and ended; a payment event; the admin API with a wrong key, then a rotation.
                let web = try await client.signIn("device-audit-2")
                secrets.add([web.accessToken, web.refreshToken])
                let (cookie, _) = try await client.openWebSession(web.accessToken)
                secrets.add([cookie.value])
                #expect(try await client.endWebSession(cookie).status == .noContent)
                #expect(try await client.revenueCat(revenueCatBody("rc-audit-1", "INITIAL_PURCHASE", at: 1_800_000_000_000, ["app_user_id": web.user.id])).status == .ok)
                for key in ["wrong-admin-key-0123456789abcdef0123456789", Self.adminKey] {
                    let rotation = try await client.execute(
                        uri: "/admin/v1/keys/rotate", method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                        body: ByteBuffer(string: #"{"immediate": true}"#))
                    #expect(rotation.status == (key == Self.adminKey ? .ok : .unauthorized))
                }
                // Last, the account deletes itself (from a new session: the web session's has ended).
                let last = try await client.signIn("device-audit-2")
                secrets.add([last.accessToken, last.refreshToken])
                #expect(try await client.authorized("/v1/me", .delete, token: last.accessToken).status == .noContent)

                #expect(await services.audit.table?.flush() == true)
                let stored = try await services.store.auditEvents(AuditQuery(limit: 1000))
                return (first.user.id, sid(of: first.accessToken), stored)
            }

            let written = try Self.lines(path)
            let summary = written.map { "\($0.event.type.rawValue):\($0.event.outcome.rawValue)" }
            #expect(summary == [
                "sign_in:success", "sign_in:success", "sign_in:failure", "sign_in:failure", "rate_limited:failure",
                "refresh_replay:failure", "sign_in:success", "identity_linked:success", "identity_linked:failure",
                "identity_unlinked:success", "logout:success", "sign_in:success", "sign_in:success", "sign_in:success",
                "session_revoked:success", "token_revoked:success", "token_revoked:success",
                "sign_in:success", "session_revoked:success", "webhook_applied:success",
                "admin_action:failure", "signing_key_rotated:success", "admin_action:success", "sign_in:success", "account_deleted:success",
            ], "\(summary)")
            let byType = Dictionary(grouping: written.map(\.event), by: \.type)

            // Every event: an id, the harness clock's time, the socket's address, a request id.
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            for (index, (_, event)) in written.enumerated() {
                #expect(event.clientAddress == "127.0.0.1", "\(event)")
                #expect(event.requestID?.isEmpty == false, "\(event)")
                #expect(event.time == (index < 5 ? start : start.addingTimeInterval(60)), "\(event)")
            }
            #expect(Set(written.map(\.event.id)).count == written.count)
            let signIns = try #require(byType[.signIn])
            #expect(signIns[0].requestID == "req-audit-0001", "the client's X-Request-Id")
            #expect(signIns[0].details == ["method": "device", "new_user": "true"] && signIns[0].userID == user && signIns[0].sessionID == firstSession)
            #expect(signIns[1].details == ["method": "device", "new_user": "false"] && signIns[1].userID == user)
            #expect(signIns[2].details == ["method": "device", "reason": "wrong_secret"])
            #expect(byType[.rateLimited]?.map(\.details) == [["policy": "failed-sign-ins"]], "three refusals, one event")
            let replay = try #require(byType[.refreshReplay]?.first)
            #expect(replay.userID == user && replay.sessionID == firstSession && replay.details == ["session_revoked": "true"])
            #expect(byType[.identityLinked]?.map(\.details) == [["provider": "apple", "created": "true"], ["reason": "invalid_request"]])
            #expect(byType[.identityUnlinked]?.first?.details == ["provider": "apple"])
            #expect(byType[.logout]?.first?.details == ["scope": "local"] && byType[.logout]?.first?.userID == user)
            let ended = try #require(byType[.sessionRevoked])
            #expect(ended.map { $0.details["via"] } == ["sessions_endpoint", "web_session"])
            #expect(byType[.tokenRevoked]?.map(\.details) == [["token_type": "refresh_token"], ["token_type": "access_token"]],
                    "the fourth session had ended already: revoking its refresh token changed nothing")
            #expect(byType[.tokenRevoked]?.last?.userID == user)
            #expect(byType[.webhookApplied]?.first?.details["source"] == "revenuecat")
            #expect(byType[.webhookApplied]?.first?.details["event_id"] == "rc-audit-1")
            #expect(byType[.adminAction]?.map(\.details) == [
                ["action": "POST /admin/v1/keys/rotate", "status": "401"], ["action": "POST /admin/v1/keys/rotate", "status": "200"],
            ])
            #expect(byType[.signingKeyRotated]?.first?.details["immediate"] == "true")
            #expect(byType[.accountDeleted]?.count == 1)

            // The table holds the same events, newest first (by time, then id).
            #expect(events.map(\.id) == written.map(\.event).sorted { ($0.time, $0.id) > ($1.time, $1.id) }.map(\.id))
            #expect(events.sorted { $0.id < $1.id } == written.map(\.event).sorted { $0.id < $1.id }, "the table has every field")
            // No token, secret, cookie, ID token or device id in any line.
            for (text, _) in written {
                #expect(text.hasPrefix(#"{"audience":"audit","#))
                for secret in secrets.all {
                    #expect(!text.contains(secret), "an audit line carries a secret: \(text)")
                }
            }
            for line in harness.logs.all {
                for secret in secrets.all where secret != validSecret { #expect(!line.contains(secret)) }
            }
        }
    }

    @Test func theTableWriterCommitsOnItsOwnAndWhatIsLeftAtShutdown() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            let (harness, path) = try Self.harness(provider)
            try await harness.withApp(.live) { client, services in
                _ = try await client.signIn("device-writer-0")
                // The writer's own loop commits the event, without a flush.
                var stored: [AuditEvent] = []
                for _ in 0..<200 where stored.isEmpty {
                    stored = try await services.store.auditEvents(AuditQuery())
                    if stored.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(stored.map(\.type) == [.signIn])
                // These are still queued, or being written, when the server shuts down.
                for index in 1...50 { _ = try await client.signIn("device-writer-\(index)") }
            }
            let stored = try await harness.withStore { try await $0.auditEvents(AuditQuery(limit: 1000)) }
            #expect(stored.count == 51, "every event reached the table before the store closed")
            #expect(try Self.lines(path).count == 51)
        }
    }

    @Test func aWriterStoppedBeforeItRanStillWritesEveryQueuedEvent() async throws {
        do {
            let (harness, _) = try Self.harness(nil)
            let services = try await harness.services()
            let writer = try #require(services.audit.table)
            let events = (0..<1_200).map { AuditEvent(id: String(format: "q-%05d", $0), time: harness.clock.now(), type: .logout) }
            for event in events { services.audit.record(event) }
            // A writer whose task is cancelled (shutdown) before it ever waited: the queue, in batches, still lands.
            await withTaskGroup(of: Void.self) { group in
                group.cancelAll()
                group.addTask { try? await writer.run() }
            }
            let stored = try await services.store.auditEvents(AuditQuery(limit: 1000))
            let all = try await services.store.pruneAuditEvents(before: harness.clock.now().addingTimeInterval(1), limit: 5000)
            await services.store.close()
            #expect(stored.count == 1000 && all == 1200, "\(all) of 1200 written")
            #expect(Set(stored.map(\.id)) == Set(events.suffix(1000).map(\.id)), "newest first, by id within one time")
        }
    }

    @Test func withTheStreamAndTheTableOffNothingIsWritten() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            let (base, path) = try Self.harness(provider, table: false)
            var harness = base
            harness.configuration.auditLog = .off
            try await harness.withApp { client, services in
                _ = try await client.signIn("device-off-1")
                #expect(services.audit.table == nil)
                #expect(try await services.store.auditEvents(AuditQuery()).isEmpty)
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func eventLinesHaveOneShapeAndReadBack() throws {
        let event = AuditEvent(
            id: "e-1", time: Date(timeIntervalSince1970: 1_800_000_000.123_4), type: .logout, userID: "u-1",
            details: ["scope": "global"])
        let line = String(decoding: try AuditLine.encode(event), as: UTF8.self)
        #expect(line == #"{"audience":"audit","client_address":null,"details":{"scope":"global"},"id":"e-1","outcome":"success","# +
            #""request_id":null,"session_id":null,"time":"2027-01-15T08:00:00.123Z","type":"logout","user_id":"u-1"}"#)
        #expect(try AuditLine.decode(Data(line.utf8)) == event)
    }
}
