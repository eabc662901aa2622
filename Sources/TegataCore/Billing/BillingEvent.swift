import Foundation
import TegataWire

/// Where a payment event came from.
public enum BillingSource: String, Sendable, CaseIterable {
    /// Stripe (`POST /v1/webhooks/stripe`).
    case stripe
    /// RevenueCat (`POST /v1/webhooks/revenuecat`).
    case revenuecat
}

/// A verified payment webhook, reduced to what decides entitlements. Built by ``StripeEvents`` and
/// ``RevenueCatEvents`` from the provider's JSON; applied by the store in one transaction.
///
/// The model: a *customer* (a Stripe customer id, a RevenueCat app user id) owns *subscriptions*;
/// each subscription grants entitlement names until a time. A customer is linked to a Tegata user
/// (or not yet: its subscriptions are kept and count as soon as the link arrives). A user's
/// entitlements are the union over the subscriptions of every customer linked to it.
public struct BillingEvent: Sendable, Equatable {
    /// The provider.
    public var source: BillingSource
    /// The provider's event id: each is applied once.
    public var id: String
    /// The provider's event type, for logs.
    public var type: String
    /// When the provider generated the event, in milliseconds since 1970: an event older than what a
    /// subscription (or a customer link) already reflects never overwrites it.
    public var occurredAt: Int64
    /// Customers linked to a Tegata user id by the event itself (Stripe: `client_reference_id`,
    /// `metadata.tegata_user_id`).
    public var links: [CustomerLink]
    /// Ids that name one subscriber (RevenueCat: `app_user_id`, `original_app_user_id`, `aliases`),
    /// in order of preference. The first that is a Tegata user id links all of them to that user.
    public var aliases: [String]
    /// What happens to a subscription, if anything.
    public var change: SubscriptionChange?
    /// Entitlement names the event carried that are not valid names (dropped, and logged).
    public var droppedNames: [String]

    /// Creates an event.
    public init(
        source: BillingSource, id: String, type: String, occurredAt: Int64, links: [CustomerLink] = [],
        aliases: [String] = [], change: SubscriptionChange? = nil, droppedNames: [String] = []
    ) {
        self.source = source
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.links = links
        self.aliases = aliases
        self.change = change
        self.droppedNames = droppedNames
    }

    /// How long an event id is remembered. Stripe retries a failed delivery for up to three days; a
    /// redelivery after this still cannot undo newer state, because subscriptions are ordered by time.
    public static let idRetention: TimeInterval = 30 * 86_400

    /// True when the event changes nothing at all (it is still answered 200).
    public var isInert: Bool { links.isEmpty && aliases.isEmpty && change == nil }
}

/// A provider's customer linked to a Tegata user.
public struct CustomerLink: Sendable, Equatable {
    /// The provider's customer id.
    public var customer: String
    /// The Tegata user id.
    public var userID: String

    /// Creates a link.
    public init(customer: String, userID: String) {
        self.customer = customer
        self.userID = userID
    }
}

/// What an event does to one subscription.
public enum SubscriptionChange: Sendable, Equatable {
    /// The subscription (owned by `customer`) now grants exactly these entitlements; an empty list
    /// grants nothing.
    case grant(subscription: String, customer: String, entitlements: [Entitlement])
    /// The subscription grants nothing any more. A `final` end (a deleted Stripe subscription) is
    /// never undone by a later event.
    case end(subscription: String, customer: String, final: Bool)
    /// Every subscription of the customers `from` (and of the users they are linked to) moves to the
    /// customer `to` (RevenueCat's `TRANSFER`).
    case transfer(from: [String], to: String)
}

/// What applying an event did.
public enum BillingOutcome: String, Sendable, Equatable {
    /// The event was applied.
    case applied
    /// The event id was seen before: nothing changed.
    case duplicate
    /// The subscription already reflects a newer event: the subscription did not change (any
    /// customer link the event carried was still applied if it was newer).
    case stale
    /// A correctly authenticated event of a type that does not affect entitlements.
    case ignored
}

extension Entitlement {
    /// Whether `name` can be an entitlement name: 1 to 64 characters of `A-Z a-z 0-9 . _ : -`.
    /// Names go into every access token, so they are kept short and plain.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy(isNameByte)
    }

    /// `A-Z a-z 0-9 . _ : -`.
    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
             UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}

/// Reads untyped JSON (the providers add fields and move them between API versions, so the
/// events are read by path rather than decoded into fixed types).
struct JSONObject {
    let values: [String: Any]

    init(_ values: [String: Any]) { self.values = values }

    /// Parses a JSON object; throws `invalid_request` for anything else.
    init(parsing data: some Collection<UInt8>) throws(TegataError) {
        let parsed: Any
        do {
            try StrictJSON.validate(data)
        } catch {
            throw TegataError.invalidRequest("the body is not valid JSON: \(error.reason)")
        }
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(data))
        } catch {
            throw TegataError.invalidRequest("the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw TegataError.invalidRequest("the body must be a JSON object") }
        values = object
    }

    func object(_ key: String) -> JSONObject? { (values[key] as? [String: Any]).map(JSONObject.init) }

    /// A non-empty string.
    func string(_ key: String) -> String? {
        guard let text = values[key] as? String, !text.isEmpty else { return nil }
        return text
    }

    /// JSON's `true`/`false` come back as NSNumbers of this class (on Linux and on Apple platforms).
    private static let booleanType = type(of: NSNumber(value: true))

    /// An integer (JSON numbers without a fraction).
    func integer(_ key: String) -> Int64? {
        guard let number = values[key] as? NSNumber, type(of: number) != Self.booleanType else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double == double.rounded(), abs(double) < 9.0e15 else { return nil }
        return number.int64Value
    }

    func bool(_ key: String) -> Bool? {
        guard let number = values[key] as? NSNumber, type(of: number) == Self.booleanType else { return nil }
        return number.boolValue
    }

    func objects(_ key: String) -> [JSONObject] {
        ((values[key] as? [Any]) ?? []).compactMap { ($0 as? [String: Any]).map(JSONObject.init) }
    }

    func strings(_ key: String) -> [String] {
        ((values[key] as? [Any]) ?? []).compactMap { $0 as? String }.filter { !$0.isEmpty }
    }

    /// An id that may be given as a string or as an expanded object with an `id`.
    func id(_ key: String) -> String? { string(key) ?? object(key)?.string("id") }

    /// A required string, or `invalid_request` naming the field.
    func require(_ key: String, in path: String) throws(TegataError) -> String {
        guard let value = string(key) else { throw TegataError.invalidRequest("missing field \(path)\(key)") }
        return value
    }
}
