import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// `POST /admin/v1/users/import`: existing users brought with their ids, identities, devices,
/// entitlements, claims and payment customers — idempotent, per-record results, never half-applied,
/// never a session — and the imported user getting back in by its identity.
@Suite struct AdminImportTests {
    static let legacyID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    static let appleSubject = "001234.0123456789abcdef0123456789abcdef.0123"

    static func record(id: String = legacyID, subject: String = appleSubject, device: String = "legacy-device-0001") -> String {
        """
        {"id": "\(id)", "created_at": "2024-05-01T09:00:00Z", "anon": false,
         "identities": [{"provider": "apple", "subject": "\(subject)", "email": "abc@privaterelay.appleid.com"}],
         "devices": [{"id": "\(device)", "platform": "ios"}],
         "entitlements": [{"name": "lifetime", "expires_at": null}],
         "claims": {"plan": "gold"},
         "customers": [{"source": "stripe", "id": "cus_legacy_1"}]}
        """
    }

    @Test func importedUsersSignInByTheirIdentityAndReImportingChangesNothing() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            var configured = try AdminUsersTests.harness(provider)
            configured.configuration.revenueCatWebhookAuth = revenueCatAuth
            configured.configuration.stripeWebhookSecret = stripeSecret
            configured.configuration.stripeEntitlements = ["price_pro": ["pro"]]
            let harness = configured
            try await harness.withApp { client, services in
                let body = #"{"users": [\#(Self.record()), {"id": "only-a-device", "devices": [{"id": "legacy-device-0002", "platform": "android"}]}, {"id": "bad id"}]}"#
                let first = try await client.admin(.post, "/admin/v1/users/import", json: body)
                #expect(first.status == .ok, "\(first.text)")
                let answer = try first.decode(AdminImportResponse.self)
                #expect(answer.results.map(\.result) == ["created", "created", "invalid"] && answer.created == 2 && answer.invalid == 1)
                #expect(answer.results[2].id == nil && answer.results[2].reason?.contains("id must be") == true)
                #expect(try await services.store.sessions(ofUser: Self.legacyID).isEmpty, "an import opens no session")

                let shown = try await client.admin(.get, "/admin/v1/users/\(Self.legacyID)").decode(AdminUserResponse.self)
                #expect(!shown.anon && shown.identities.map(\.subject) == [Self.appleSubject] && shown.devices.map(\.platform) == ["ios"])
                #expect(shown.ent == ["lifetime": .unlimited] && shown.claims == ["plan": .string("gold")])
                #expect(shown.createdAt == Date(timeIntervalSince1970: 1_714_554_000))

                // Idempotent: the same body again changes nothing.
                let again = try await client.admin(.post, "/admin/v1/users/import", json: body).decode(AdminImportResponse.self)
                #expect(again.results.map(\.result) == ["unchanged", "unchanged", "invalid"])

                // The Apple user signs in through the token exchange and lands on the imported account.
                let idToken = TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: TokenExchangeTests.rawNonce, now: harness.clock.now()))
                let tokens = try await client.exchange(idToken, provider: "apple", nonce: TokenExchangeTests.rawNonce).decode(TokenResponse.self)
                #expect(tokens.user.id == Self.legacyID && !tokens.user.anon)
                #expect(claim("sub", of: tokens.accessToken) as? String == Self.legacyID)
                #expect(claim("plan", of: tokens.accessToken) as? String == "gold")
                #expect((claim("ent", of: tokens.accessToken) as? [String: Any])?["lifetime"] as? Bool == true)

                // An imported device has no secret: no secret signs it in, and it registers nobody new.
                let device = try await client.execute(
                    uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody("legacy-device-0002"))
                #expect(device.status == .unauthorized && device.errorBody?.error == .invalidGrant, "\(device.text)")
                #expect(try await services.store.deviceOwner(deviceID: "legacy-device-0002") == "only-a-device")

                // RevenueCat naming the legacy id as app_user_id reaches the imported user; the imported
                // entitlement stays beside the purchase.
                let now = Int64(harness.clock.now().timeIntervalSince1970 * 1000)
                #expect(try client.delivered(try await client.revenueCat(revenueCatBody(
                    "evt-import-1", "INITIAL_PURCHASE", at: now, ["app_user_id": "only-a-device"]))) == "applied")
                let paid = try await client.admin(.get, "/admin/v1/users/only-a-device").decode(AdminUserResponse.self)
                #expect(paid.ent["pro"] != nil, "\(paid.ent)")
                // Stripe naming the imported customer reaches its user.
                let stripeNow = Int64(harness.clock.now().timeIntervalSince1970)
                #expect(try client.delivered(try await client.stripe(stripeEvent(
                    "evt_import_2", "customer.subscription.created", created: stripeNow,
                    object: subscriptionObject(customer: "cus_legacy_1", periodEnd: stripeNow + 86_400)), signedAt: stripeNow)) == "applied")
                let both = try await client.admin(.get, "/admin/v1/users/\(Self.legacyID)").decode(AdminUserResponse.self)
                #expect(both.ent["lifetime"] == .unlimited && both.ent["pro"] != nil, "\(both.ent)")
            }
        }
    }

    @Test func aConflictingRecordIsReportedAndNothingOfItIsWritten() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            try await AdminUsersTests.harness(provider).withApp { client, services in
                let existing = try await client.signIn("device-taken-01")
                // A new identity, and a device another user has: the identity must not be linked either.
                let body = #"{"users": [\#(Self.record(device: "device-taken-01"))]}"#
                let answer = try await client.admin(.post, "/admin/v1/users/import", json: body).decode(AdminImportResponse.self)
                #expect(answer.results.map(\.result) == ["conflict"] && answer.results[0].reason == "devices[0] is registered to another user")
                #expect(!answer.results[0].reason!.contains("device-taken-01"), "never a device id in an answer")
                #expect(try await services.store.userRecord(userID: Self.legacyID) == nil)
                #expect(try await services.administration.findUsers(UserQuery(identity: (provider: "apple", subject: Self.appleSubject))).users.isEmpty)
                #expect(try await services.store.deviceOwner(deviceID: "device-taken-01") == existing.user.id)

                // Within a batch, a later record sees the earlier ones: the second claimant of one identity conflicts.
                let twice = #"{"users": [\#(Self.record(id: "user-a", device: "device-a-0001")), \#(Self.record(id: "user-b", device: "device-b-0001"))]}"#
                let results = try await client.admin(.post, "/admin/v1/users/import", json: twice).decode(AdminImportResponse.self)
                #expect(results.results.map(\.result) == ["created", "conflict"], "\(results)")
                #expect(results.results[1].reason == "identities[0] (apple) is linked to another user")
            }
        }
    }

    @Test func malformedBodiesAnswer400() async throws {
        try await AdminUsersTests.harness().withApp { client, _ in
            for body in [#"{}"#, #"{"users": {}}"#, #"{"users": [], "extra": 1}"#, #"[]"#, #"{"users": [1,]}"#] {
                let response = try await client.admin(.post, "/admin/v1/users/import", json: body)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(body): \(response.text)")
            }
            let many = "{\"users\": [" + Array(repeating: "{}", count: UserImport.maximumBatch + 1).joined(separator: ",") + "]}"
            let tooMany = try await client.admin(.post, "/admin/v1/users/import", json: many)
            #expect(tooMany.status == .badRequest && tooMany.text.contains("at most 1000"), "\(tooMany.text)")
            let empty = try await client.admin(.post, "/admin/v1/users/import", json: #"{"users": []}"#).decode(AdminImportResponse.self)
            #expect(empty.results.isEmpty)
            let unknown = try await client.admin(.post, "/admin/v1/users/import", json: #"{"users": [{"id": "u-1", "identites": []}]}"#)
            #expect(try unknown.decode(AdminImportResponse.self).results[0].reason?.hasPrefix("identites is not a field") == true, "\(unknown.text)")
        }
    }
}
