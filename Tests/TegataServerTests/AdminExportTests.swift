import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// `GET /admin/v1/users/{id}/export`: everything Tegata holds of a user, for an account-data
/// request — and never a token or a secret.
@Suite struct AdminExportTests {
    @Test func anExportHoldsTheUserItsSessionsEntitlementsAndAuditEvents() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-export-audit-\(UUID().uuidString).jsonl").path
        var configured = try AdminUsersTests.harness()
        configured.configuration.auditLog = .file(path: path)
        configured.configuration.auditTable = true
        configured.configuration.revenueCatWebhookAuth = revenueCatAuth
        let harness = configured
        try await harness.withApp(.live) { client, services in
            let first = try await client.signIn("device-export-1")
            let second = try await client.signIn("device-export-1")
            #expect(try await client.logout(first.accessToken, scope: "local").status == .noContent)
            try await services.administration.setClaims(first.user.id, ["roles": .array([.string("player")])])
            let now = Int64(harness.clock.now().timeIntervalSince1970 * 1000)
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody(
                "evt-export-1", "INITIAL_PURCHASE", at: now, ["app_user_id": first.user.id]))) == "applied")
            // The audit table is written off the request path: wait for the events to land.
            for _ in 0..<100 where try await services.store.auditEvents(AuditQuery(userID: first.user.id)).count < 3 {
                try await Task.sleep(for: .milliseconds(50))
            }

            let response = try await client.admin(.get, "/admin/v1/users/\(first.user.id)/export")
            #expect(response.status == .ok && response.headers[.cacheControl] == "no-store", "\(response.text)")
            let export = try WireCoding.makeDecoder().decode(AdminUserExport.self, from: Data(response.text.utf8))
            let shown = try await client.admin(.get, "/admin/v1/users/\(first.user.id)").decode(AdminUserResponse.self)
            #expect(export.user == shown && export.user.claims == ["roles": .array([.string("player")])])
            #expect(export.sessions.map(\.id) == [sid(of: first.accessToken), sid(of: second.accessToken)])
            #expect(export.sessions[0].revokedAt != nil && export.sessions[1].revokedAt == nil)
            #expect(export.entitlements.map(\.name) == ["pro"] && export.entitlements[0].expiresAt != nil && export.user.ent["pro"] != nil)
            let events = try #require(export.auditEvents)
            #expect(events.contains { $0.type == .signIn } && events.contains { $0.type == .logout } && !export.auditEventsTruncated)
            #expect(events.allSatisfy { $0.userID == first.user.id })
            for secret in [validSecret, first.accessToken, first.refreshToken, second.refreshToken] {
                #expect(!response.text.contains(secret), "never a token or a secret")
            }
            #expect(try await client.admin(.get, "/admin/v1/users/no-such-user/export").status == .notFound)
            #expect(try await client.admin(.get, "/admin/v1/users/a%20b/export").status == .badRequest)
        }
    }

    @Test func withoutAnAuditTableTheExportSaysSo() async throws {
        try await AdminUsersTests.harness().withApp { client, _ in
            let user = try await client.signIn("device-export-2")
            let response = try await client.admin(.get, "/admin/v1/users/\(user.user.id)/export")
            #expect(response.status == .ok && response.text.contains(#""audit_events":null"#), "\(response.text)")
        }
    }
}
