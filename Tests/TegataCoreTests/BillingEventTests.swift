import Crypto
import Foundation
import TegataCore
import TegataWire
import Testing

/// The signature Stripe documents, computed here with swift-crypto directly (not through the code
/// under test): hex HMAC-SHA256 of "<t>.<body>" under the endpoint secret.
func stripeSignatureValue(_ body: String, secret: String, at timestamp: Int64) -> String {
    let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
    return mac.map { String(format: "%02x", $0) }.joined()
}

@Suite struct StripeSignatureTests {
    let secret = "whsec_test_0123456789abcdefghijkl"
    let body = #"{"id": "evt_1", "object": "event",  "type": "customer.updated", "note": "caf\u00e9 ☕"}"#
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var verifier: StripeSignature { StripeSignature(secret: secret) }

    func verify(_ header: String?, body: String? = nil, now: Date? = nil) -> TegataError? {
        do {
            try verifier.verify(header: header, payload: Array((body ?? self.body).utf8), now: now ?? self.now)
            return nil
        } catch {
            return error
        }
    }

    @Test func aSignatureMadeAsStripeDocumentsVerifies() {
        let t: Int64 = 1_800_000_000
        #expect(verify("t=\(t),v1=\(stripeSignatureValue(body, secret: secret, at: t))") == nil)
        #expect(verifier.header(payload: Array(body.utf8), timestamp: t) == "t=\(t),v1=\(stripeSignatureValue(body, secret: secret, at: t))")
    }

    /// Stripe signs the timestamp as the header shows it: a spelling that only reads as the same
    /// number (`+…`, leading zeros, a negative) is not what was signed, and is refused (the
    /// stripe-signature fuzzer's second finding).
    @Test func theTimestampIsPlainDigitsAsSigned() {
        let t: Int64 = 1_800_000_000
        let good = stripeSignatureValue(body, secret: secret, at: t)
        #expect(verify("t=\(t),v1=\(good)") == nil)
        for spelling in ["+\(t)", "0\(t)", "00\(t)", "\(t).0", "-\(t)", "１８００"] {
            #expect(verify("t=\(spelling),v1=\(good)")?.message.contains("invalid timestamp") == true, "t=\(spelling)")
        }
        #expect(verify("t=,v1=\(good)") != nil, "no timestamp")
    }

    @Test func anyOfSeveralV1ValuesMayMatchAndOtherSchemesAreIgnored() {
        let t: Int64 = 1_800_000_000
        let good = stripeSignatureValue(body, secret: secret, at: t)
        let other = stripeSignatureValue(body, secret: "whsec_the_old_secret_xxxxxxxx", at: t)
        #expect(verify("t=\(t),v1=\(other),v1=\(good),v0=deadbeef") == nil)
        #expect(verify("t=\(t), v1=\(good)") == nil, "spaces after commas")
        #expect(verify("t=\(t),v1=\(other),v0=\(good)") != nil, "v0 is never accepted")
    }

    /// Stripe sends one v1 value, two while a secret is rolled: a header with more is refused before
    /// any HMAC, however many are valid hex, and the good one among five still verifies.
    @Test func atMostAHandfulOfV1ValuesAreLooked() {
        let t: Int64 = 1_800_000_000
        let good = stripeSignatureValue(body, secret: secret, at: t)
        let filler = String(repeating: "ab", count: 32)
        let five = (0..<4).map { _ in "v1=\(filler)" }.joined(separator: ",")
        #expect(verify("t=\(t),\(five),v1=\(good)") == nil)
        let six = (0..<5).map { _ in "v1=\(filler)" }.joined(separator: ",")
        let error = verify("t=\(t),\(six),v1=\(good)")
        #expect(error?.code == .invalidRequest && error?.message.contains("more than 5") == true)
        let thousands = (0..<1_000).map { _ in "v1=\(filler)" }.joined(separator: ",")
        #expect(verify("t=\(t),\(thousands)")?.message.contains("too long") == true, "over the header limit")
    }

    @Test func theRawBytesAreSignedNotARencoding() {
        let t: Int64 = 1_800_000_000
        let header = "t=\(t),v1=\(stripeSignatureValue(body, secret: secret, at: t))"
        let reencoded = String(decoding: try! JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: Data(body.utf8)), options: [.sortedKeys]), as: UTF8.self)
        #expect(reencoded != body)
        #expect(verify(header, body: reencoded) != nil)
        #expect(verify(header, body: body + " ") != nil)
    }

    @Test func timestampsMoreThanFiveMinutesAwayFail() {
        for offset: Int64 in [-301, 301, -86_400] {
            let t = 1_800_000_000 + offset
            let error = verify("t=\(t),v1=\(stripeSignatureValue(body, secret: secret, at: t))")
            #expect(error?.message.contains("300 s") == true, "offset \(offset)")
        }
        for offset: Int64 in [-300, 300] {
            let t = 1_800_000_000 + offset
            #expect(verify("t=\(t),v1=\(stripeSignatureValue(body, secret: secret, at: t))") == nil, "offset \(offset)")
        }
    }

    @Test func malformedOrMissingHeadersFailWithoutEchoingThem() {
        let t: Int64 = 1_800_000_000
        let good = stripeSignatureValue(body, secret: secret, at: t)
        let cases: [String?] = [
            nil, "", "garbage", "v1=\(good)", "t=\(t)", "t=abc,v1=\(good)", "t=\(t),t=\(t),v1=\(good)",
            "t=\(t),v1=\(good.dropLast(2))", "t=\(t),v1=zz\(good.dropFirst(2))", "t=\(t),v1=\(stripeSignatureValue(body, secret: "whsec_wrong_secret_wrong_secret", at: t))",
            String(repeating: "t=1,", count: 5_000),
        ]
        for header in cases {
            let error = verify(header)
            #expect(error?.code == .invalidRequest, "\(header?.prefix(40) ?? "nil")")
            #expect(error.map { !$0.message.contains(good) } == true)
        }
        #expect(!secret.isEmpty)
    }
}

@Suite struct StripeEventsTests {
    let parser = StripeEvents(entitlements: ["price_monthly": ["pro"], "prod_membership": ["membership", "pro"]])

    func event(_ type: String, created: Int64 = 1_800_000_000, object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: [
            "id": "evt_\(type)_\(created)", "object": "event", "type": type, "created": created, "api_version": "2024-06-20",
            "data": ["object": object],
        ]))
    }

    func subscription(status: String, items: [[String: Any]], periodEnd: Int64? = 1_802_592_000, metadata: [String: String] = [:]) -> [String: Any] {
        var object: [String: Any] = ["id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
                                     "items": ["object": "list", "data": items], "metadata": metadata]
        if let periodEnd { object["current_period_end"] = periodEnd }
        return object
    }

    @Test func anActiveSubscriptionGrantsItsPricesAndProductsUntilThePeriodEnd() throws {
        let body = event("customer.subscription.updated", object: subscription(status: "active", items: [
            ["id": "si_1", "price": ["id": "price_monthly", "product": "prod_other"]],
            ["id": "si_2", "price": ["id": "price_unmapped", "product": "prod_membership"]],
            ["id": "si_3", "price": ["id": "price_unmapped", "product": "prod_unmapped"]],
        ]))
        let parsed = try #require(try parser.parse(body))
        #expect(parsed.source == .stripe && parsed.id == "evt_customer.subscription.updated_1800000000" && parsed.occurredAt == 1_800_000_000_000)
        let end = Date(timeIntervalSince1970: 1_802_592_000)
        #expect(parsed.change == .grant(subscription: "sub_1", customer: "cus_1", entitlements: [
            Entitlement(name: "membership", expiresAt: end), Entitlement(name: "pro", expiresAt: end),
        ]))
        #expect(parsed.links.isEmpty)
    }

    @Test func basilPutsThePeriodEndOnEachItem() throws {
        let body = event("customer.subscription.created", object: subscription(status: "trialing", items: [
            ["id": "si_1", "price": ["id": "price_monthly", "product": "prod_x"], "current_period_end": 1_801_000_000],
        ], periodEnd: nil, metadata: ["tegata_user_id": "user-1"]))
        let parsed = try #require(try parser.parse(body))
        #expect(parsed.change == .grant(subscription: "sub_1", customer: "cus_1", entitlements: [
            Entitlement(name: "pro", expiresAt: Date(timeIntervalSince1970: 1_801_000_000)),
        ]))
        #expect(parsed.links == [CustomerLink(customer: "cus_1", userID: "user-1")])
    }

    @Test func statusesWithoutPaymentGrantNothingAndDeletionIsFinal() throws {
        let items: [[String: Any]] = [["id": "si_1", "price": ["id": "price_monthly", "product": "prod_x"]]]
        for status in ["past_due", "unpaid", "incomplete", "paused"] {
            let parsed = try #require(try parser.parse(event("customer.subscription.updated", object: subscription(status: status, items: items))))
            #expect(parsed.change == .end(subscription: "sub_1", customer: "cus_1", final: false), "\(status)")
        }
        for (type, status) in [("customer.subscription.deleted", "canceled"), ("customer.subscription.updated", "incomplete_expired")] {
            let parsed = try #require(try parser.parse(event(type, object: subscription(status: status, items: items))))
            #expect(parsed.change == .end(subscription: "sub_1", customer: "cus_1", final: true), "\(type) \(status)")
        }
    }

    @Test func checkoutAndCustomerEventsLinkTheCustomer() throws {
        let checkout = try #require(try parser.parse(event("checkout.session.completed", object: [
            "id": "cs_1", "object": "checkout.session", "customer": "cus_9", "client_reference_id": "user-9", "subscription": "sub_9",
        ])))
        #expect(checkout.links == [CustomerLink(customer: "cus_9", userID: "user-9")] && checkout.change == nil)
        let byMetadata = try #require(try parser.parse(event("checkout.session.completed", object: [
            "id": "cs_2", "customer": "cus_8", "metadata": ["tegata_user_id": "user-8"],
        ])))
        #expect(byMetadata.links == [CustomerLink(customer: "cus_8", userID: "user-8")])
        let guest = try #require(try parser.parse(event("checkout.session.completed", object: ["id": "cs_3", "customer": NSNull(), "client_reference_id": "user-7"])))
        #expect(guest.isInert)
        let customer = try #require(try parser.parse(event("customer.updated", object: ["id": "cus_6", "metadata": ["tegata_user_id": "user-6"]])))
        #expect(customer.links == [CustomerLink(customer: "cus_6", userID: "user-6")])
    }

    @Test func invoicesInBothShapes() throws {
        let old = try #require(try parser.parse(event("invoice.paid", object: [
            "id": "in_1", "customer": "cus_1", "subscription": "sub_1", "subscription_details": ["metadata": ["tegata_user_id": "user-1"]],
            "lines": ["data": [
                ["price": ["id": "price_monthly", "product": "prod_x"], "period": ["start": 1_800_000_000, "end": 1_802_592_000], "proration": false],
                ["price": ["id": "price_old", "product": "prod_membership"], "period": ["start": 1_800_000_000, "end": 1_802_592_000], "proration": true],
            ]],
        ])))
        #expect(old.change == .grant(subscription: "sub_1", customer: "cus_1", entitlements: [
            Entitlement(name: "pro", expiresAt: Date(timeIntervalSince1970: 1_802_592_000)),
        ]))
        #expect(old.links == [CustomerLink(customer: "cus_1", userID: "user-1")])
        let basil = try #require(try parser.parse(event("invoice.paid", object: [
            "id": "in_2", "customer": "cus_1",
            "parent": ["type": "subscription_details", "subscription_details": ["subscription": "sub_1", "metadata": [:] as [String: String]]],
            "lines": ["data": [
                ["pricing": ["price_details": ["price": "price_x", "product": "prod_membership"]], "period": ["end": 1_803_000_000],
                 "parent": ["subscription_item_details": ["proration": false]]],
                ["pricing": ["price_details": ["price": "price_monthly", "product": "prod_x"]], "period": ["end": 1_803_000_000],
                 "parent": ["subscription_item_details": ["proration": true]]],
            ]],
        ])))
        let end = Date(timeIntervalSince1970: 1_803_000_000)
        #expect(basil.change == .grant(subscription: "sub_1", customer: "cus_1", entitlements: [
            Entitlement(name: "membership", expiresAt: end), Entitlement(name: "pro", expiresAt: end),
        ]))
        let failed = try #require(try parser.parse(event("invoice.payment_failed", object: ["id": "in_3", "customer": "cus_1", "subscription": "sub_1"])))
        #expect(failed.change == .end(subscription: "sub_1", customer: "cus_1", final: false))
        #expect(try parser.parse(event("invoice.paid", object: ["id": "in_4", "customer": "cus_1"])) == nil, "not a subscription invoice")
    }

    @Test func otherTypesAreIgnoredAndBrokenEventsAreBadRequests() throws {
        #expect(try parser.parse(event("charge.succeeded", object: ["id": "ch_1"])) == nil)
        let broken: [[UInt8]] = [
            Array("not json".utf8), Array("[1]".utf8), Array(#"{"type": "customer.updated", "created": 1}"#.utf8),
            Array(#"{"id": "evt", "type": "customer.updated"}"#.utf8),
            Array(#"{"id": "evt", "type": "customer.updated", "created": "yesterday", "data": {"object": {"id": "cus"}}}"#.utf8),
            Array(#"{"id": "evt", "type": "customer.subscription.updated", "created": 1, "data": {}}"#.utf8),
            event("customer.subscription.updated", object: ["id": "sub_1", "status": "active"]),
            event("customer.subscription.updated", object: subscription(status: "active", items: [["price": ["id": "price_monthly"]]], periodEnd: nil)),
            [0xff, 0xfe, 0x00],
        ]
        for body in broken {
            #expect(throws: TegataError.self) { try parser.parse(body) }
        }
    }
}

@Suite struct RevenueCatEventsTests {
    let parser = RevenueCatEvents()

    func body(_ fields: [String: Any]) -> [UInt8] {
        var event: [String: Any] = [
            "id": "rc-evt-1", "event_timestamp_ms": 1_800_000_000_123, "app_user_id": "user-1",
            "original_app_user_id": "$RCAnonymousID:abc", "aliases": ["$RCAnonymousID:abc", "user-1"],
            "product_id": "pro_monthly", "entitlement_ids": ["pro"], "original_transaction_id": "1000000001",
            "transaction_id": "1000000009", "expiration_at_ms": 1_802_592_000_000, "environment": "PRODUCTION",
        ]
        event.merge(fields) { $1 }
        return Array(try! JSONSerialization.data(withJSONObject: ["api_version": "1.0", "event": event]))
    }

    @Test func purchasesGrantTheirEntitlementsUntilExpiration() throws {
        let end = Date(timeIntervalSince1970: 1_802_592_000)
        for type in ["INITIAL_PURCHASE", "RENEWAL", "UNCANCELLATION", "CANCELLATION", "SUBSCRIPTION_EXTENDED"] {
            let parsed = try #require(try parser.parse(body(["type": type])))
            #expect(parsed.occurredAt == 1_800_000_000_123 && parsed.source == .revenuecat)
            #expect(parsed.aliases == ["user-1", "$RCAnonymousID:abc"])
            #expect(parsed.change == .grant(subscription: "1000000001", customer: "user-1", entitlements: [Entitlement(name: "pro", expiresAt: end)]), "\(type)")
        }
        let lifetime = try #require(try parser.parse(body(["type": "NON_RENEWING_PURCHASE", "expiration_at_ms": NSNull(), "original_transaction_id": NSNull()])))
        #expect(lifetime.change == .grant(subscription: "1000000009", customer: "user-1", entitlements: [Entitlement(name: "pro", expiresAt: nil)]))
        let refunded = try #require(try parser.parse(body(["type": "CANCELLATION", "expiration_at_ms": NSNull()])))
        #expect(refunded.change == .end(subscription: "1000000001", customer: "user-1", final: false))
    }

    @Test func expirationEndsAndInformationalTypesChangeNothing() throws {
        let expired = try #require(try parser.parse(body(["type": "EXPIRATION"])))
        #expect(expired.change == .end(subscription: "1000000001", customer: "user-1", final: false))
        for type in ["PRODUCT_CHANGE", "SUBSCRIPTION_PAUSED", "SUBSCRIBER_ALIAS", "BILLING_ISSUE"] {
            let parsed = try #require(try parser.parse(body(["type": type])))
            #expect(parsed.change == nil && !parsed.aliases.isEmpty, "\(type)")
        }
        let grace = try #require(try parser.parse(body(["type": "BILLING_ISSUE", "grace_period_expiration_at_ms": 1_803_000_000_000])))
        #expect(grace.change == .grant(subscription: "1000000001", customer: "user-1", entitlements: [
            Entitlement(name: "pro", expiresAt: Date(timeIntervalSince1970: 1_803_000_000)),
        ]))
        #expect(try parser.parse(body(["type": "TEST"])) == nil)
    }

    @Test func transfersMoveFromTheSourceIdsToTheFirstDestination() throws {
        let parsed = try #require(try parser.parse(body([
            "type": "TRANSFER", "app_user_id": NSNull(), "transferred_from": ["user-1", "$RCAnonymousID:abc"], "transferred_to": ["user-2"],
        ])))
        #expect(parsed.change == .transfer(from: ["user-1", "$RCAnonymousID:abc"], to: "user-2"))
        #expect(parsed.aliases == ["user-2"])
        #expect(throws: TegataError.self) { try parser.parse(body(["type": "TRANSFER", "transferred_to": ["user-2"]])) }
    }

    @Test func invalidNamesAreDroppedAndBrokenEventsAreBadRequests() throws {
        let parsed = try #require(try parser.parse(body(["type": "INITIAL_PURCHASE", "entitlement_ids": ["pro", "has space", String(repeating: "x", count: 65)]])))
        #expect(parsed.droppedNames.count == 2)
        if case .grant(_, _, let entitlements)? = parsed.change { #expect(entitlements.map(\.name) == ["pro"]) } else { Issue.record("not a grant") }
        for broken in [Array("{}".utf8), Array(#"{"event": []}"#.utf8), body(["id": NSNull(), "type": "RENEWAL"]),
                       body(["type": "RENEWAL", "event_timestamp_ms": "now"]), body(["type": "RENEWAL", "app_user_id": NSNull(), "original_app_user_id": NSNull(), "aliases": [] as [String]]),
                       body(["type": "RENEWAL", "original_transaction_id": NSNull(), "transaction_id": NSNull(), "product_id": NSNull()])] {
            #expect(throws: TegataError.self) { try parser.parse(broken) }
        }
    }

    @Test func theAuthorizationMustMatchExactly() {
        let check = ConfiguredSecret(expected: "Bearer rc-webhook-0123456789")
        #expect(check.matches("Bearer rc-webhook-0123456789"))
        for other in [nil, "", "Bearer rc-webhook-012345678", "bearer rc-webhook-0123456789", "Bearer rc-webhook-0123456789 "] as [String?] {
            #expect(!check.matches(other))
        }
    }
}
