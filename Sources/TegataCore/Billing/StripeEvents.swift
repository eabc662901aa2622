import Crypto
import Foundation
import TegataTokens

/// Stripe's webhook signature (`Stripe-Signature: t=<unix time>,v1=<hex HMAC>,…`), checked as
/// Stripe documents it: HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's signing secret, any
/// one of the `v1` values may match (there are several while a secret is being rolled), and the
/// timestamp must be within the tolerance of now. See https://docs.stripe.com/webhooks#verify-manually.
public struct StripeSignature: Sendable {
    private let key: SymmetricKey
    /// The largest accepted |now − t|.
    public let tolerance: TimeInterval

    /// Creates a verifier for the endpoint secret (`whsec_…`, used as given, as Stripe's libraries do).
    public init(secret: String, tolerance: TimeInterval = 300) {
        key = SymmetricKey(data: Data(secret.utf8))
        self.tolerance = tolerance
    }

    /// Throws `invalid_request` unless `header` carries a valid signature of `payload` made within the
    /// tolerance of `now`. The texts never repeat the header or the body.
    public func verify(header: String?, payload: some Collection<UInt8>, now: Date) throws(TegataError) {
        guard let header, header.utf8.count <= 8 * 1024 else {
            throw TegataError.invalidRequest("the Stripe-Signature header is missing or too long")
        }
        var timestamp: Int64?
        var signatures: [Data] = []
        var signatureCount = 0
        for element in header.split(separator: ",") {
            let pair = element.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            switch name {
            case "t":
                // Only plain digits, no leading zero: Stripe signs the timestamp as the header shows
                // it, so `+1800000000` or `01800000000` (which Int64 reads as the same number) is not
                // what was signed.
                guard timestamp == nil, (1...18).contains(value.utf8.count), value.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                      value == "0" || value.utf8.first != 0x30, let parsed = Int64(value) else {
                    throw TegataError.invalidRequest("the Stripe-Signature header has an invalid timestamp")
                }
                timestamp = parsed
            case "v1":
                // Stripe sends one, two while a secret is being rolled: a header with more is refused
                // before any HMAC, so it cannot be used to make the server compute many.
                signatureCount += 1
                guard signatureCount <= Self.maximumSignatures else {
                    throw TegataError.invalidRequest("the Stripe-Signature header has more than \(Self.maximumSignatures) v1 signatures")
                }
                // A value that is not a SHA-256 in hex cannot match; it is skipped, not an error.
                if let digest = Self.hexBytes(value), digest.count == SHA256.byteCount { signatures.append(digest) }
            default:
                continue  // v0 (test mode's legacy scheme) and anything newer are ignored, as Stripe says.
            }
        }
        guard let timestamp else { throw TegataError.invalidRequest("the Stripe-Signature header has no timestamp") }
        guard !signatures.isEmpty else { throw TegataError.invalidRequest("the Stripe-Signature header has no v1 signature") }
        var signed = Data("\(timestamp).".utf8)
        signed.append(contentsOf: payload)
        // One HMAC, whatever the number of candidates; each is compared in constant time, and all
        // are, so the time taken does not depend on which matched.
        let expected = Data(HMAC<SHA256>.authenticationCode(for: signed, using: key))
        var matched = false
        for signature in signatures where Self.constantTimeEqual(signature, expected) {
            matched = true
        }
        guard matched else { throw TegataError.invalidRequest("the Stripe-Signature does not match the body") }
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else {
            throw TegataError.invalidRequest("the Stripe-Signature timestamp is more than \(Int(tolerance)) s from now")
        }
    }

    /// The most `v1` values a header may carry.
    public static let maximumSignatures = 5

    /// Whether `a` and `b` are equal, in time that depends only on their lengths.
    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// The `Stripe-Signature` value Stripe would send for `payload` at `timestamp` (tests and tools).
    public func header(payload: some Collection<UInt8>, timestamp: Int64) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(contentsOf: payload)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return "t=\(timestamp),v1=" + mac.lowercaseHex
    }

    static func hexBytes(_ text: String) -> Data? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes = Data(capacity: digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// Turns verified Stripe events into ``BillingEvent``s. Which prices or products grant which
/// entitlement names is configuration; a Stripe customer is linked to a Tegata user by a Checkout
/// Session's `client_reference_id`, or by `metadata.tegata_user_id` on the session, the customer,
/// the subscription (or the subscription's snapshot on an invoice).
///
/// Field locations follow both the API versions before 2025-03-31.basil and basil onwards:
/// `current_period_end` on the subscription or on each item; an invoice's subscription at
/// `subscription` or `parent.subscription_details.subscription`; a line's price at `price` or
/// `pricing.price_details`; proration at `proration` or `parent.subscription_item_details.proration`.
public struct StripeEvents: Sendable {
    /// Price or product id → entitlement names.
    public let entitlements: [String: [String]]

    /// The event types that affect entitlements or customer links.
    public static let handledTypes: Set<String> = [
        "checkout.session.completed", "customer.created", "customer.updated",
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
        "invoice.paid", "invoice.payment_failed",
    ]

    /// The metadata key that names the Tegata user.
    public static let userMetadataKey = "tegata_user_id"

    /// Subscription statuses that grant entitlements until the period's end.
    static let grantingStatuses: Set<String> = ["active", "trialing"]
    /// Statuses a subscription never leaves.
    static let finalStatuses: Set<String> = ["canceled", "incomplete_expired"]

    /// Creates a parser with the price/product → entitlement names mapping.
    public init(entitlements: [String: [String]]) {
        self.entitlements = entitlements
    }

    /// The event in `body` (already verified), or nil for a type that affects nothing. Throws
    /// `invalid_request` for a body that is not a Stripe event or lacks a field a handled type needs.
    public func parse(_ body: some Collection<UInt8>) throws(TegataError) -> BillingEvent? {
        let event = try JSONObject(parsing: body)
        let id = try event.require("id", in: "")
        let type = try event.require("type", in: "")
        guard let created = event.integer("created") else { throw TegataError.invalidRequest("missing field created") }
        guard Self.handledTypes.contains(type) else { return nil }
        guard let object = event.object("data")?.object("object") else {
            throw TegataError.invalidRequest("missing field data.object")
        }
        var result = BillingEvent(source: .stripe, id: id, type: type, occurredAt: created * 1000)
        switch type {
        case "checkout.session.completed":
            if let customer = object.id("customer"),
               let user = object.string("client_reference_id") ?? Self.userID(in: object) {
                result.links.append(CustomerLink(customer: customer, userID: user))
            }
        case "customer.created", "customer.updated":
            let customer = try object.require("id", in: "data.object.")
            if let user = Self.userID(in: object) { result.links.append(CustomerLink(customer: customer, userID: user)) }
        case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
            let subscription = try object.require("id", in: "data.object.")
            guard let customer = object.id("customer") else { throw TegataError.invalidRequest("missing field data.object.customer") }
            if let user = Self.userID(in: object) { result.links.append(CustomerLink(customer: customer, userID: user)) }
            let status = object.string("status") ?? ""
            if type == "customer.subscription.deleted" || Self.finalStatuses.contains(status) {
                result.change = .end(subscription: subscription, customer: customer, final: true)
            } else if Self.grantingStatuses.contains(status) {
                let grants = try subscriptionGrants(object, names: &result.droppedNames)
                result.change = .grant(subscription: subscription, customer: customer, entitlements: grants)
            } else {
                // past_due, unpaid, incomplete, paused: nothing is granted while payment is missing.
                result.change = .end(subscription: subscription, customer: customer, final: false)
            }
        default:  // invoice.paid, invoice.payment_failed
            let details = object.object("parent")?.object("subscription_details")
            guard let subscription = details?.id("subscription") ?? object.id("subscription") else {
                return nil  // an invoice that is not for a subscription grants nothing here
            }
            guard let customer = object.id("customer") else { throw TegataError.invalidRequest("missing field data.object.customer") }
            if let user = (details ?? object.object("subscription_details")).flatMap(Self.userID(in:)) {
                result.links.append(CustomerLink(customer: customer, userID: user))
            }
            if type == "invoice.paid" {
                let grants = try invoiceGrants(object, names: &result.droppedNames)
                result.change = .grant(subscription: subscription, customer: customer, entitlements: grants)
            } else {
                result.change = .end(subscription: subscription, customer: customer, final: false)
            }
        }
        return result
    }

    /// The entitlements of a granting subscription: each item's price and product, until the item's
    /// (or the subscription's) current period end.
    private func subscriptionGrants(_ subscription: JSONObject, names dropped: inout [String]) throws(TegataError) -> [Entitlement] {
        var grants: [String: Int64] = [:]
        for item in subscription.object("items")?.objects("data") ?? [] {
            let price = item.object("price") ?? item.object("plan")
            let ids = [price?.string("id"), price?.id("product")].compactMap { $0 }
            let names = ids.flatMap { entitlements[$0] ?? [] }
            guard !names.isEmpty else { continue }
            guard let end = item.integer("current_period_end") ?? subscription.integer("current_period_end") else {
                throw TegataError.invalidRequest("the subscription has no current_period_end")
            }
            for name in names { grants[name] = max(grants[name] ?? 0, end) }
        }
        return Self.entitlements(grants, dropped: &dropped)
    }

    /// The entitlements an invoice paid for: each line that is not a proration, until the line's
    /// period end.
    private func invoiceGrants(_ invoice: JSONObject, names dropped: inout [String]) throws(TegataError) -> [Entitlement] {
        var grants: [String: Int64] = [:]
        for line in invoice.object("lines")?.objects("data") ?? [] {
            let proration = line.bool("proration")
                ?? line.object("parent")?.object("subscription_item_details")?.bool("proration") ?? false
            guard !proration else { continue }
            let details = line.object("pricing")?.object("price_details")
            let ids = [line.object("price")?.string("id"), line.object("price")?.id("product"),
                       details?.id("price"), details?.id("product")].compactMap { $0 }
            let names = ids.flatMap { entitlements[$0] ?? [] }
            guard !names.isEmpty else { continue }
            guard let end = line.object("period")?.integer("end") else {
                throw TegataError.invalidRequest("an invoice line has no period.end")
            }
            for name in names { grants[name] = max(grants[name] ?? 0, end) }
        }
        return Self.entitlements(grants, dropped: &dropped)
    }

    private static func entitlements(_ grants: [String: Int64], dropped: inout [String]) -> [Entitlement] {
        grants.keys.sorted().compactMap { name in
            guard Entitlement.isValidName(name) else {
                dropped.append(name)
                return nil
            }
            return Entitlement(name: name, expiresAt: Date(timeIntervalSince1970: TimeInterval(grants[name] ?? 0)))
        }
    }

    private static func userID(in object: JSONObject) -> String? {
        object.object("metadata")?.string(userMetadataKey)
    }
}
