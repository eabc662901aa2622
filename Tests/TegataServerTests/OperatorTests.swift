import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataTokens
import TegataWire
import Testing

/// The operator CLI's commands in process, on the same database as a running app: each answers
/// the admin API's JSON, goes through the same rules (feed events, device revocations, refusals),
/// and audits itself.
@Suite struct OperatorTests {
    static var quiet: Logger {
        var logger = Logger(label: "operator-test")
        logger.logLevel = .critical
        return logger
    }

    /// Runs `body` with an operator on `harness`'s database (beside the app's own store).
    static func withOperator<T: Sendable>(_ harness: Harness, _ body: (Operator) async throws -> T) async throws -> T {
        let operation = try await Operator.open(harness.configuration, clock: harness.clock, logger: quiet)
        do {
            let result = try await body(operation)
            await operation.close()
            return result
        } catch {
            await operation.close()
            throw error
        }
    }

    static func expectRefused(_ code: Int32, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("not refused", sourceLocation: sourceLocation)
        } catch let error as TegataError {
            #expect(Operator.exitCode(for: error) == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func usersGetAndFindAnswerWhatTheAdminAPIAnswers() async throws {
        let harness = try AdminUsersTests.harness()
        try await harness.withApp { client, _ in
            let first = try await client.signIn("device-operator-1")
            _ = try await client.signIn("device-operator-2")
            try await Self.withOperator(harness) { operation in
                _ = try await operation.setClaims(first.user.id, json: Data(#"{"roles":["admin"]}"#.utf8))
                let shown = try await operation.user(first.user.id)
                let api = try await client.admin(.get, "/admin/v1/users/\(first.user.id)")
                #expect(String(decoding: shown.json, as: UTF8.self) == api.text)
                #expect(shown.text.contains("user \(first.user.id)") && shown.text.contains("device-operator-1 ios"))
                #expect(shown.text.contains(#"claims: {"roles":["admin"]}"#) && shown.text.contains("enabled"))

                let found = try await operation.findUsers(["device_id": "device-operator-2"])
                let apiFound = try await client.admin(.get, "/admin/v1/users?device_id=device-operator-2")
                #expect(String(decoding: found.json, as: UTF8.self) == apiFound.text)
                let page = try await operation.findUsers(["limit": "1"])
                let cursor = try #require(try JSONDecoder.wire.decode(AdminUsersResponse.self, from: page.json).nextCursor)
                #expect(page.text.contains("more: --cursor \(cursor)"))
                let next = try await operation.findUsers(["limit": "1", "cursor": cursor])
                #expect(String(decoding: next.json, as: UTF8.self) == (try await client.admin(.get, "/admin/v1/users?limit=1&cursor=\(cursor)")).text)

                await Self.expectRefused(67) { _ = try await operation.user("no-such-user") }
                await Self.expectRefused(64) { _ = try await operation.user("a b") }
                await Self.expectRefused(64) { _ = try await operation.findUsers(["provider": "apple"]) }
                await Self.expectRefused(64) { _ = try await operation.findUsers(["created_after": "yesterday"]) }
            }
        }
    }

    @Test func disableEnableRevokeDeleteAndClaimsKeepTheAPIsRules() async throws {
        let harness = try AdminUsersTests.harness()
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-operator-3")
            let before = try await client.feed()
            try await Self.withOperator(harness) { operation in
                let until = harness.clock.now().addingTimeInterval(600)
                let disabled = try await operation.disable(user.user.id, until: until)
                #expect(disabled.text.contains("disabled until"))
                await Self.expectRefused(64) { _ = try await operation.disable(user.user.id, until: harness.clock.now()) }
                let shown = try await operation.user(user.user.id)
                #expect(shown.text.contains("disabled since"))
            }
            AdminDisableTests.expectDisabled(
                try await DeviceRevocationTests().deviceSignIn(client, "device-operator-3"), "device sign-in",
                until: harness.clock.now().addingTimeInterval(600).formatted(Date.ISO8601FormatStyle()))
            #expect(try await client.me(user.accessToken).status == .unauthorized)
            let events = try await client.feed("?after=\(before.cursor)").events
            #expect(events.map(\.type) == ["user"] && events.first?.sub == user.user.id, "the same feed event as the API's")

            let again = try await Self.withOperator(harness) { operation -> TokenResponse in
                _ = try await operation.enable(user.user.id)
                let again = try await DeviceRevocationTests().deviceSignIn(client, "device-operator-3").decode(TokenResponse.self)
                // Claims: refused ones change nothing; set ones are in the next token.
                await Self.expectRefused(64) { _ = try await operation.setClaims(user.user.id, json: Data(#"{"sub":"x"}"#.utf8)) }
                await Self.expectRefused(64) { _ = try await operation.setClaims(user.user.id, json: Data("[1]".utf8)) }
                await Self.expectRefused(64) { _ = try await operation.setClaims(user.user.id, json: Data(#"{"a":1,"a":2}"#.utf8)) }
                _ = try await operation.setClaims(user.user.id, json: Data(#"{"nsa_id":"n-1"}"#.utf8))
                return again
            }
            let refreshed = try await client.refreshed(again.refreshToken)
            #expect(claim("nsa_id", of: refreshed.accessToken) as? String == "n-1")

            try await Self.withOperator(harness) { operation in
                let sessions = try JSONDecoder.wire.decode(AdminSessionsResponse.self, from: try await operation.sessions(ofUser: user.user.id).json)
                #expect(sessions.sessions.map(\.id).contains(sid(of: refreshed.accessToken)))
                _ = try await operation.endSession(sid(of: refreshed.accessToken))
                await Self.expectRefused(67) { _ = try await operation.endSession("no-such-session") }
                #expect(try await client.refresh(refreshed.refreshToken).status == .badRequest)

                let other = try await client.signIn("device-operator-4")
                _ = try await operation.revoke(other.user.id)
                #expect(try await client.me(other.accessToken).status == .unauthorized)
                _ = try await operation.delete(other.user.id)
                await Self.expectRefused(67) { _ = try await operation.user(other.user.id) }
                await Self.expectRefused(67) { _ = try await operation.delete(other.user.id) }
            }
        }
    }

    @Test func keysAreListedAndRotatedAndTheServerSignsWithTheNewKeyAfterItsReload() async throws {
        // The server's own periodic reload runs on real time: on a loaded machine it could learn the
        // key before the test's reload does, so it is put out of the way.
        let harness = Harness { $0.keyReloadInterval = 3_600 }
        try await harness.withApp { client, services in
            let listed = try await Self.withOperator(harness) { try await $0.keys() }
            let keys = try JSONDecoder.wire.decode(Operator.KeysView.self, from: listed.json).keys
            #expect(keys.count == 1 && keys[0].state == "signing")
            let rotated = try await Self.withOperator(harness) { try await $0.rotateKey(immediate: false) }
            let answer = try JSONDecoder.wire.decode(KeyRotationResponse.self, from: rotated.json)
            #expect(answer.signsFrom == harness.clock.now().addingTimeInterval(harness.configuration.jwksMaxAge))
            let after = try JSONDecoder.wire.decode(Operator.KeysView.self, from: try await Self.withOperator(harness) { try await $0.keys() }.json).keys
            #expect(after.map(\.state) == ["signing", "next"] && after[1].kid == answer.kid)

            // The running server learns of it from the database at its reload, and signs with it once it is due.
            let learned = try await services.keys.reload(now: harness.clock.now())
            #expect(learned.map(\.rawValue) == [answer.kid])
            harness.clock.advance(by: harness.configuration.jwksMaxAge)
            let token = try await client.signIn("device-operator-keys").accessToken
            var encoded = String(token.split(separator: ".")[0]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while encoded.count % 4 != 0 { encoded += "=" }
            let header = try #require(Data(base64Encoded: encoded))
            #expect(String(decoding: header, as: UTF8.self).contains(answer.kid))
        }
    }

    @Test func everyCommandIsAuditedAsTheCLIsWithItsOutcome() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-operator-audit-\(UUID().uuidString).jsonl").path
        var configured = try AdminUsersTests.harness()
        configured.configuration.auditLog = .file(path: path)
        configured.configuration.auditTable = true
        let harness = configured
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-operator-5")
            try await Self.withOperator(harness) { operation in
                _ = try await operation.disable(user.user.id, until: nil)
                await Self.expectRefused(67) { _ = try await operation.enable("no-such-user") }
            }
        }
        let streamed = try AuditTests.lines(path).map(\.event).filter { $0.details["via"] == "cli" }
        #expect(streamed.map(\.details) == [
            ["action": "users disable", "via": "cli", "status": "ok"], ["action": "users enable", "via": "cli", "status": "not_found"],
        ])
        #expect(streamed.map(\.outcome) == [.success, .failure] && streamed.map(\.type) == [.adminAction, .adminAction])
        let stored = try await harness.withStore { try await $0.auditEvents(AuditQuery(type: .adminAction)) }
        #expect(Set(stored.map(\.id)) == Set(streamed.map(\.id)), "the table has the same events")
    }

    @Test func exitCodesFollowTheErrorKinds() {
        #expect(Operator.exitCode(for: .invalidRequest("x")) == 64)
        #expect(Operator.exitCode(for: .conflict("x")) == 65)
        #expect(Operator.exitCode(for: .notFound("x")) == 67)
        #expect(Operator.exitCode(for: .serviceUnavailable("x")) == 69)
        #expect(Operator.exitCode(for: .forbidden("x")) == 1)
    }
}

extension JSONDecoder {
    /// The wire decoder (RFC 3339 dates).
    static var wire: JSONDecoder { WireCoding.makeDecoder() }
}
