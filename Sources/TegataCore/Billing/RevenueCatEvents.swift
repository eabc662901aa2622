import Foundation

/// Turns RevenueCat webhook events (`{"api_version", "event": {…}}`) into ``BillingEvent``s.
///
/// The subscriber is found as RevenueCat recommends: among `app_user_id`, `original_app_user_id` and
/// `aliases`. A subscription is keyed by its `original_transaction_id` (else `transaction_id`, else
/// `product_id`) and grants its `entitlement_ids` until `expiration_at_ms` (no expiry: a
/// non-renewing purchase that does not end). See
/// https://www.revenuecat.com/docs/integrations/webhooks/event-types-and-fields.
public struct RevenueCatEvents: Sendable {
    /// Types that grant the event's entitlements until `expiration_at_ms`. A `CANCELLATION` keeps
    /// them until then too: the user paid for the period.
    public static let grantingTypes: Set<String> = [
        "INITIAL_PURCHASE", "RENEWAL", "UNCANCELLATION", "NON_RENEWING_PURCHASE", "SUBSCRIPTION_EXTENDED",
        "TEMPORARY_ENTITLEMENT_GRANT", "REFUND_REVERSED", "CANCELLATION",
    ]

    /// Creates a parser.
    public init() {}

    /// The event in `body`, or nil for a type that affects nothing (`TEST`). `PRODUCT_CHANGE` and
    /// `SUBSCRIPTION_PAUSED` change no entitlement (RevenueCat: the change takes effect with a later
    /// event; access ends only with `EXPIRATION`) but still link the subscriber's ids.
    public func parse(_ body: some Collection<UInt8>) throws(TegataError) -> BillingEvent? {
        guard let event = try JSONObject(parsing: body).object("event") else {
            throw TegataError.invalidRequest("missing field event")
        }
        let id = try event.require("id", in: "event.")
        let type = try event.require("type", in: "event.")
        guard let timestamp = event.integer("event_timestamp_ms") else {
            throw TegataError.invalidRequest("missing field event.event_timestamp_ms")
        }
        guard type != "TEST" else { return nil }
        var result = BillingEvent(source: .revenuecat, id: id, type: type, occurredAt: timestamp)

        if type == "TRANSFER" {
            // RevenueCat sends it once, for the destination; it has no app_user_id.
            let from = event.strings("transferred_from")
            let to = event.strings("transferred_to")
            guard let destination = to.first, !from.isEmpty else {
                throw TegataError.invalidRequest("a TRANSFER needs event.transferred_from and event.transferred_to")
            }
            result.aliases = Self.unique(to)
            result.change = .transfer(from: Self.unique(from), to: destination)
            return result
        }

        result.aliases = Self.unique(
            [event.string("app_user_id"), event.string("original_app_user_id")].compactMap { $0 } + event.strings("aliases"))
        guard let customer = result.aliases.first else {
            throw TegataError.invalidRequest("missing field event.app_user_id")
        }
        let subscription = event.string("original_transaction_id") ?? event.string("transaction_id") ?? event.string("product_id")
        func requireSubscription() throws(TegataError) -> String {
            guard let subscription else { throw TegataError.invalidRequest("missing field event.original_transaction_id or event.product_id") }
            return subscription
        }
        var names = event.strings("entitlement_ids")
        if names.isEmpty, let legacy = event.string("entitlement_id") { names = [legacy] }
        let valid = Self.unique(names).filter(Entitlement.isValidName)
        result.droppedNames = names.filter { !Entitlement.isValidName($0) }

        func grant(until end: Int64?) throws(TegataError) -> SubscriptionChange {
            let expiry = end.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
            return .grant(subscription: try requireSubscription(), customer: customer,
                          entitlements: valid.map { Entitlement(name: $0, expiresAt: expiry) })
        }
        switch type {
        case "CANCELLATION":
            // A cancelled subscription stays entitled until it expires; a cancelled (refunded)
            // purchase without an expiry ends now.
            if let end = event.integer("expiration_at_ms") {
                result.change = try grant(until: end)
            } else {
                result.change = .end(subscription: try requireSubscription(), customer: customer, final: false)
            }
        case _ where Self.grantingTypes.contains(type):
            result.change = try grant(until: event.integer("expiration_at_ms"))
        case "EXPIRATION":
            result.change = .end(subscription: try requireSubscription(), customer: customer, final: false)
        case "BILLING_ISSUE":
            // "This does not mean the subscription has expired": access continues through the store's
            // grace period when there is one, and ends with the EXPIRATION that follows if payment fails.
            if let grace = event.integer("grace_period_expiration_at_ms") {
                result.change = try grant(until: grace)
            }
        default:
            break  // PRODUCT_CHANGE, SUBSCRIPTION_PAUSED, SUBSCRIBER_ALIAS, INVOICE_ISSUANCE, …
        }
        return result
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
