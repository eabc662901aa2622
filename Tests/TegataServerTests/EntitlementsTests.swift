import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataWire
import Testing

let stripeSecret = "whsec_test_secret_0123456789abcdefgh"
let revenueCatAuth = "Bearer rc-webhook-secret-0123456789"

/// A harness with both webhooks configured: `price_pro` grants `pro`, product `prod_club` grants `membership`.
func billingHarness() -> Harness {
    Harness {
        $0.stripeWebhookSecret = stripeSecret
        $0.stripeEntitlements = ["price_pro": ["pro"], "prod_club": ["membership"]]
        $0.revenueCatWebhookAuth = revenueCatAuth
    }
}

/// A Stripe event body, as Stripe sends it.
func stripeEvent(_ id: String, _ type: String, created: Int64, object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: [
        "id": id, "object": "event", "type": type, "created": created, "livemode": false, "api_version": "2024-06-20",
        "data": ["object": object],
    ]), as: UTF8.self)
}

func subscriptionObject(
    _ id: String = "sub_1", customer: String = "cus_1", status: String = "active", price: String = "price_pro",
    product: String = "prod_x", periodEnd: Int64, metadata: [String: String] = [:]
) -> [String: Any] {
    ["id": id, "object": "subscription", "customer": customer, "status": status, "current_period_end": periodEnd,
     "metadata": metadata, "items": ["object": "list", "data": [["id": "si_1", "price": ["id": price, "product": product]]]]]
}

func revenueCatBody(_ id: String, _ type: String, at timestamp: Int64, _ fields: [String: Any] = [:]) -> String {
    var event: [String: Any] = [
        "id": id, "type": type, "event_timestamp_ms": timestamp, "product_id": "pro_monthly",
        "entitlement_ids": ["pro"], "original_transaction_id": "txn-1", "transaction_id": "txn-1", "store": "APP_STORE",
        "environment": "PRODUCTION", "expiration_at_ms": timestamp + 30 * 86_400_000,
    ]
    event.merge(fields) { $1 }
    return String(decoding: try! JSONSerialization.data(withJSONObject: ["api_version": "1.0", "event": event]), as: UTF8.self)
}

extension TestClientProtocol {
    /// Delivers a Stripe event signed as Stripe documents it (HMAC computed here with swift-crypto,
    /// not through Tegata's code), at `signedAt` (default: now on the harness clock).
    func stripe(_ body: String, signedAt: Int64 = 1_800_000_000, secret: String = stripeSecret, header: String? = nil) async throws -> TestResponse {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(signedAt).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        let signature = header ?? "t=\(signedAt),v1=" + mac.map { String(format: "%02x", $0) }.joined()
        return try await execute(
            uri: "/v1/webhooks/stripe", method: .post,
            headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: signature], body: ByteBuffer(string: body))
    }

    func revenueCat(_ body: String, authorization: String? = revenueCatAuth) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await execute(uri: "/v1/webhooks/revenuecat", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// The webhook's `result` (and a 200).
    func delivered(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        return try response.decode(WebhookReceipt.self).result
    }

    /// The `ent` claim of a freshly refreshed access token (nil when absent), and the rotated tokens.
    func entitlementsAfterRefresh(_ tokens: inout TokenResponse) async throws -> [String: Any]? {
        tokens = try await refreshed(tokens.refreshToken)
        return claim("ent", of: tokens.accessToken) as? [String: Any]
    }

    func meEntitlements(_ token: String) async throws -> [String: Any] {
        let response = try await me(token)
        let object = try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any]
        return try #require(object?["ent"] as? [String: Any])
    }
}

func expiresAt(_ ent: [String: Any]?, _ name: String) -> Int64? {
    ((ent?[name] as? [String: Any])?["expires_at"] as? NSNumber)?.int64Value
}

@Suite struct StripeWebhookTests {
    let now: Int64 = 1_800_000_000
    let periodEnd: Int64 = 1_802_592_000

    @Test func aSubscriptionCountsOnceCheckoutLinksItsCustomerAndShowsAtTheNextRefresh() async throws {
        try await billingHarness().withApp { client, _ in
            var tokens = try await client.signIn()
            let user = tokens.user.id
            // The subscription arrives first: its customer is not linked to anyone yet.
            #expect(try client.delivered(try await client.stripe(stripeEvent("evt_1", "customer.subscription.created", created: now, object: subscriptionObject(periodEnd: periodEnd)))) == "applied")
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
            #expect(try await client.meEntitlements(tokens.accessToken).isEmpty)
            // Checkout completed names the user: the stored subscription now counts.
            let checkout = stripeEvent("evt_2", "checkout.session.completed", created: now + 1, object: [
                "id": "cs_1", "object": "checkout.session", "customer": "cus_1", "client_reference_id": user, "subscription": "sub_1", "mode": "subscription",
            ])
            #expect(try client.delivered(try await client.stripe(checkout)) == "applied")
            let ent = try await client.entitlementsAfterRefresh(&tokens)
            #expect(expiresAt(ent, "pro") == periodEnd && ent?.count == 1)
            // The claim is in a token that verifies against the published JWKS.
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { Data($0.text.utf8) }
            let claims = try independentlyVerify(tokens.accessToken, jwksJSON: jwks)
            #expect(expiresAt(claims["ent"] as? [String: Any], "pro") == periodEnd)
            #expect(expiresAt(try await client.meEntitlements(tokens.accessToken), "pro") == periodEnd)
        }
    }

    @Test func metadataOnTheSubscriptionOrCustomerLinksToo() async throws {
        try await billingHarness().withApp { client, _ in
            var a = try await client.signIn("device-a-0001")
            var b = try await client.signIn("device-b-0001")
            _ = try await client.stripe(stripeEvent("evt_1", "customer.subscription.created", created: now, object: subscriptionObject(
                "sub_a", customer: "cus_a", price: "price_other", product: "prod_club", periodEnd: periodEnd, metadata: ["tegata_user_id": a.user.id])))
            _ = try await client.stripe(stripeEvent("evt_2", "customer.updated", created: now, object: ["id": "cus_b", "object": "customer", "metadata": ["tegata_user_id": b.user.id]]))
            _ = try await client.stripe(stripeEvent("evt_3", "customer.subscription.created", created: now, object: subscriptionObject("sub_b", customer: "cus_b", periodEnd: periodEnd)))
            let entA = try await client.entitlementsAfterRefresh(&a)
            let entB = try await client.entitlementsAfterRefresh(&b)
            #expect(entA.map { Set($0.keys) } == ["membership"])
            #expect(entB.map { Set($0.keys) } == ["pro"])
        }
    }

    @Test func aReplayedEventIdChangesNothing() async throws {
        try await billingHarness().withApp { client, _ in
            var tokens = try await client.signIn()
            let active = stripeEvent("evt_active", "customer.subscription.updated", created: now, object: subscriptionObject(periodEnd: periodEnd, metadata: ["tegata_user_id": tokens.user.id]))
            #expect(try client.delivered(try await client.stripe(active)) == "applied")
            let deleted = stripeEvent("evt_deleted", "customer.subscription.deleted", created: now + 10, object: subscriptionObject(status: "canceled", periodEnd: periodEnd))
            #expect(try client.delivered(try await client.stripe(deleted)) == "applied")
            // Stripe redelivers the first event (a new signature, the same id): still nothing granted.
            #expect(try client.delivered(try await client.stripe(active, signedAt: now + 60)) == "duplicate")
            #expect(try client.delivered(try await client.stripe(deleted, signedAt: now + 60)) == "duplicate")
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
        }
    }

    @Test func concurrentDeliveriesOfOneEventApplyItOnce() async throws {
        try await billingHarness().withApp { client, _ in
            let tokens = try await client.signIn()
            let body = stripeEvent("evt_once", "customer.subscription.created", created: now, object: subscriptionObject(periodEnd: periodEnd, metadata: ["tegata_user_id": tokens.user.id]))
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<20 { group.addTask { try client.delivered(try await client.stripe(body)) } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == "applied" }.count == 1)
            #expect(results.filter { $0 == "duplicate" }.count == 19)
        }
    }

    @Test func anOlderEventNeverOverwritesNewerState() async throws {
        try await billingHarness().withApp { client, _ in
            var tokens = try await client.signIn()
            let meta = ["tegata_user_id": tokens.user.id]
            // Renewed (newer) arrives before the past_due (older) update.
            _ = try await client.stripe(stripeEvent("evt_new", "customer.subscription.updated", created: now + 100, object: subscriptionObject(periodEnd: periodEnd, metadata: meta)))
            #expect(try client.delivered(try await client.stripe(stripeEvent("evt_old", "customer.subscription.updated", created: now, object: subscriptionObject(status: "past_due", periodEnd: periodEnd, metadata: meta)))) == "stale")
            #expect(try client.delivered(try await client.stripe(stripeEvent("evt_old_failed", "invoice.payment_failed", created: now + 50, object: ["id": "in_1", "customer": "cus_1", "subscription": "sub_1"]))) == "stale")
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == periodEnd)
            // A newer failure does clear it, and a paid invoice after that grants again.
            #expect(try client.delivered(try await client.stripe(stripeEvent("evt_failed", "invoice.payment_failed", created: now + 200, object: ["id": "in_2", "customer": "cus_1", "subscription": "sub_1"]))) == "applied")
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
            let paid = stripeEvent("evt_paid", "invoice.paid", created: now + 300, object: [
                "id": "in_2", "customer": "cus_1", "subscription": "sub_1",
                "lines": ["data": [["price": ["id": "price_pro", "product": "prod_x"], "period": ["start": now, "end": periodEnd + 5], "proration": false]]],
            ])
            #expect(try client.delivered(try await client.stripe(paid)) == "applied")
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == periodEnd + 5)
            // Deleted is final: a later-dated update cannot bring the subscription back.
            _ = try await client.stripe(stripeEvent("evt_del", "customer.subscription.deleted", created: now + 400, object: subscriptionObject(status: "canceled", periodEnd: periodEnd)))
            #expect(try client.delivered(try await client.stripe(stripeEvent("evt_after", "customer.subscription.updated", created: now + 500, object: subscriptionObject(periodEnd: periodEnd)))) == "stale")
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
        }
    }

    @Test func withinOneSecondActivationWinsWhateverTheOrder() async throws {
        for activeFirst in [true, false] {
            try await billingHarness().withApp { client, _ in
                var tokens = try await client.signIn()
                let meta = ["tegata_user_id": tokens.user.id]
                let incomplete = stripeEvent("evt_c", "customer.subscription.created", created: now, object: subscriptionObject(status: "incomplete", periodEnd: periodEnd, metadata: meta))
                let active = stripeEvent("evt_u", "customer.subscription.updated", created: now, object: subscriptionObject(periodEnd: periodEnd, metadata: meta))
                for body in activeFirst ? [active, incomplete] : [incomplete, active] { _ = try await client.stripe(body) }
                #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == periodEnd, "active first: \(activeFirst)")
            }
        }
    }

    @Test func entitlementsEndByTimeWithoutAnyWebhook() async throws {
        let harness = billingHarness()
        try await harness.withApp { client, _ in
            var tokens = try await client.signIn()
            _ = try await client.stripe(stripeEvent("evt_1", "customer.subscription.created", created: now, object: subscriptionObject(periodEnd: now + 600, metadata: ["tegata_user_id": tokens.user.id])))
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == now + 600)
            harness.clock.advance(by: 601)
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
            #expect(try await client.meEntitlements(tokens.accessToken).isEmpty)
        }
    }

    @Test func badSignaturesAre400AndStoreNothing() async throws {
        let harness = billingHarness()
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            let body = stripeEvent("evt_1", "customer.subscription.created", created: now, object: subscriptionObject(periodEnd: periodEnd, metadata: ["tegata_user_id": tokens.user.id]))
            var refused: [TestResponse] = [
                try await client.stripe(body, secret: "whsec_someone_elses_secret_000000"),
                try await client.stripe(body, signedAt: now - 301),
                try await client.stripe(body, signedAt: now + 301),
                try await client.stripe(body, header: ""),
                try await client.stripe(body, header: "t=\(now)"),
            ]
            // A body changed after signing (here: re-encoded with sorted keys).
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(now).\(body)".utf8), using: SymmetricKey(data: Data(stripeSecret.utf8)))
            let reencoded = String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(body.utf8)), options: [.sortedKeys]), as: UTF8.self)
            refused.append(try await client.stripe(reencoded, header: "t=\(now),v1=" + mac.map { String(format: "%02x", $0) }.joined()))
            refused.append(try await client.execute(uri: "/v1/webhooks/stripe", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)))
            for response in refused {
                #expect(response.status == .badRequest, "\(response.text)")
                #expect(response.errorBody?.error == .invalidRequest)
            }
            // None of them was recorded: the genuine delivery of the same id applies.
            #expect(try client.delivered(try await client.stripe(body)) == "applied")
            #expect(!harness.logs.all.contains { $0.contains(stripeSecret) })
        }
    }

    @Test func signedButBrokenBodiesAre4xxAndOtherTypesAre200() async throws {
        try await billingHarness().withApp { client, _ in
            #expect(try client.delivered(try await client.stripe(stripeEvent("evt_x", "charge.succeeded", created: now, object: ["id": "ch_1"]))) == "ignored")
            for body in ["not json", "[]", #"{"id": "evt"}"#, stripeEvent("evt_y", "customer.subscription.updated", created: now, object: ["id": "sub_1"])] {
                let response = try await client.stripe(body)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(body): \(response.text)")
            }
            let huge = stripeEvent("evt_z", "charge.succeeded", created: now, object: ["id": "ch_1", "pad": String(repeating: "x", count: 1_100_000)])
            #expect(try await client.stripe(huge).status == .contentTooLarge)
            // The cap is 256 KiB, whatever TEGATA_MAX_BODY_SIZE says, and comes before the signature check.
            let over = stripeEvent("evt_z2", "charge.succeeded", created: now, object: ["id": "ch_1", "pad": String(repeating: "x", count: 262_144)])
            #expect(try await client.stripe(over).status == .contentTooLarge)
            #expect(try await client.stripe(over, header: "t=1,v1=00").status == .contentTooLarge)
            let under = stripeEvent("evt_z3", "charge.succeeded", created: now, object: ["id": "ch_1", "pad": String(repeating: "x", count: 200_000)])
            #expect(try await client.stripe(under).status == .ok)
        }
    }

    @Test func webhooksAre404UntilConfigured() async throws {
        try await Harness().withApp { client, _ in
            let stripe = try await client.stripe(stripeEvent("evt_1", "charge.succeeded", created: now, object: [:]))
            #expect(stripe.status == .notFound && stripe.errorBody?.error == .notFound)
            let revenueCat = try await client.revenueCat(revenueCatBody("rc-1", "TEST", at: 1))
            #expect(revenueCat.status == .notFound && revenueCat.errorBody?.error == .notFound)
        }
    }

    @Test func prunedEventIdsStillCannotUndoNewerState() async throws {
        let harness = billingHarness()
        try await harness.withApp { client, services in
            var tokens = try await client.signIn()
            let meta = ["tegata_user_id": tokens.user.id]
            let old = stripeEvent("evt_old", "customer.subscription.updated", created: now, object: subscriptionObject(status: "past_due", periodEnd: periodEnd, metadata: meta))
            _ = try await client.stripe(old)
            _ = try await client.stripe(stripeEvent("evt_new", "customer.subscription.updated", created: now + 10, object: subscriptionObject(periodEnd: periodEnd, metadata: meta)))
            let pruned = try await services.store.prune(
                now: harness.clock.now(), idleLifetime: 86_400, webhookEventsBefore: harness.clock.now().addingTimeInterval(1), limit: 100)
            #expect(pruned.webhookEvents == 2)
            // The old event's id is forgotten, so its redelivery is not a duplicate, but it is still older.
            #expect(try client.delivered(try await client.stripe(old, signedAt: now + 20)) == "stale")
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == periodEnd)
        }
    }

    @Test func deletingTheAccountDropsItsPaymentLinks() async throws {
        try await billingHarness().withApp { client, services in
            let tokens = try await client.signIn()
            _ = try await client.stripe(stripeEvent("evt_1", "customer.subscription.created", created: now, object: subscriptionObject(periodEnd: periodEnd, metadata: ["tegata_user_id": tokens.user.id])))
            #expect(try await client.authorized("/v1/me", .delete, token: tokens.accessToken).status == .noContent)
            // The same device registers a new, empty user; a later event of the old customer reaches no one.
            var fresh = try await client.signIn()
            #expect(fresh.user.id != tokens.user.id)
            _ = try await client.stripe(stripeEvent("evt_2", "customer.subscription.updated", created: now + 1, object: subscriptionObject(periodEnd: periodEnd + 1)))
            #expect(try await client.entitlementsAfterRefresh(&fresh) == nil)
            #expect(try await services.store.userRecord(userID: tokens.user.id) == nil)
        }
    }
}

@Suite struct RevenueCatWebhookTests {
    let t: Int64 = 1_800_000_000_000

    @Test func theAuthorizationHeaderMustMatch() async throws {
        let harness = billingHarness()
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            let body = revenueCatBody("rc-1", "INITIAL_PURCHASE", at: t, ["app_user_id": tokens.user.id])
            for authorization in [nil, "", "Bearer wrong", revenueCatAuth + "x", revenueCatAuth.lowercased()] as [String?] {
                let response = try await client.revenueCat(body, authorization: authorization)
                #expect(response.status == .unauthorized && response.errorBody?.error == .invalidClient)
            }
            #expect(try client.delivered(try await client.revenueCat(body)) == "applied")
            #expect(!harness.logs.all.contains { $0.contains(revenueCatAuth) || $0.contains("rc-webhook-secret") })
        }
    }

    @Test func aSubscriptionLifecycle() async throws {
        try await billingHarness().withApp { client, _ in
            var tokens = try await client.signIn()
            let user = tokens.user.id
            let expiry = t + 30 * 86_400_000
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-1", "INITIAL_PURCHASE", at: t, ["app_user_id": user]))) == "applied")
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == expiry / 1000)
            // Product change: no change yet. Cancellation: still entitled until expiration.
            _ = try await client.revenueCat(revenueCatBody("rc-2", "PRODUCT_CHANGE", at: t + 1, ["app_user_id": user, "new_product_id": "pro_yearly"]))
            _ = try await client.revenueCat(revenueCatBody("rc-3", "CANCELLATION", at: t + 2, ["app_user_id": user, "expiration_at_ms": expiry, "cancel_reason": "UNSUBSCRIBE"]))
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == expiry / 1000)
            // Billing issue with a grace period: entitled through the grace period.
            _ = try await client.revenueCat(revenueCatBody("rc-4", "BILLING_ISSUE", at: t + 3, ["app_user_id": user, "grace_period_expiration_at_ms": expiry + 86_400_000]))
            #expect(expiresAt(try await client.entitlementsAfterRefresh(&tokens), "pro") == (expiry + 86_400_000) / 1000)
            // Expiration ends it; a replay of the purchase does not revive it; an older renewal is stale.
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-5", "EXPIRATION", at: t + 4, ["app_user_id": user]))) == "applied")
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-1", "INITIAL_PURCHASE", at: t, ["app_user_id": user]))) == "duplicate")
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-0", "RENEWAL", at: t + 3, ["app_user_id": user]))) == "stale")
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
            // A lapsed user resubscribes (RENEWAL, later): entitled again.
            _ = try await client.revenueCat(revenueCatBody("rc-6", "RENEWAL", at: t + 5, ["app_user_id": user]))
            #expect(try await client.entitlementsAfterRefresh(&tokens) != nil)
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-7", "TEST", at: t + 6))) == "ignored")
        }
    }

    @Test func anAnonymousPurchaseCountsOnceAnAliasNamesTheUser() async throws {
        try await billingHarness().withApp { client, _ in
            var tokens = try await client.signIn()
            let anonymous = "$RCAnonymousID:8069238d6049ce87cc529853916d624c"
            // Bought before the app logged in to RevenueCat: no Tegata user among the ids yet.
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-1", "NON_RENEWING_PURCHASE", at: t, [
                "app_user_id": anonymous, "original_app_user_id": anonymous, "aliases": [anonymous], "expiration_at_ms": NSNull(),
            ]))) == "applied")
            #expect(try await client.entitlementsAfterRefresh(&tokens) == nil)
            // Later the subscriber's aliases include the Tegata user id (RevenueCat's logIn).
            _ = try await client.revenueCat(revenueCatBody("rc-2", "SUBSCRIBER_ALIAS", at: t + 1, [
                "app_user_id": anonymous, "original_app_user_id": anonymous, "aliases": [anonymous, tokens.user.id],
            ]))
            let ent = try await client.entitlementsAfterRefresh(&tokens)
            #expect(ent?["pro"] as? Bool == true, "a non-renewing purchase without expiry: \(String(describing: ent))")
        }
    }

    @Test func aTransferMovesEntitlementsEvenWhenItArrivesFirst() async throws {
        try await billingHarness().withApp { client, _ in
            var a = try await client.signIn("device-a-0001")
            var b = try await client.signIn("device-b-0001")
            // In order: A buys, then the purchase is transferred to B.
            _ = try await client.revenueCat(revenueCatBody("rc-1", "INITIAL_PURCHASE", at: t, ["app_user_id": a.user.id]))
            #expect(try await client.entitlementsAfterRefresh(&a) != nil)
            #expect(try client.delivered(try await client.revenueCat(revenueCatBody("rc-2", "TRANSFER", at: t + 10, [
                "transferred_from": [a.user.id], "transferred_to": [b.user.id], "product_id": NSNull(),
            ]))) == "applied")
            #expect(try await client.entitlementsAfterRefresh(&a) == nil)
            #expect(try await client.entitlementsAfterRefresh(&b) != nil)
            // Out of order: a renewal of A's older state, dated before the transfer, still lands on B.
            _ = try await client.revenueCat(revenueCatBody("rc-3", "INITIAL_PURCHASE", at: t + 5, [
                "app_user_id": a.user.id, "original_transaction_id": "txn-2", "entitlement_ids": ["extra"],
            ]))
            #expect(try await client.entitlementsAfterRefresh(&a) == nil)
            #expect(try await client.entitlementsAfterRefresh(&b).map { Set($0.keys) } == ["pro", "extra"])
        }
    }

    @Test func brokenBodiesAre400() async throws {
        try await billingHarness().withApp { client, _ in
            for body in ["", "{", #"{"event": {"type": "RENEWAL"}}"#, revenueCatBody("rc-1", "RENEWAL", at: t, ["app_user_id": NSNull()])] {
                let response = try await client.revenueCat(body)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(body): \(response.text)")
            }
        }
    }
}
