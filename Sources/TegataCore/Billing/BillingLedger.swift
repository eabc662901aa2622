import Foundation

/// A provider's customer as stored: linked to a Tegata user, or not yet.
public struct BillingCustomer: Sendable, Equatable {
    /// The Tegata user id it is linked to; nil while unlinked (its subscriptions are kept, and count
    /// once a later event links it).
    public var userID: String?
    /// The time (ms since 1970) of the event that made the link.
    public var linkedAt: Int64

    /// Creates a customer record.
    public init(userID: String?, linkedAt: Int64) {
        self.userID = userID
        self.linkedAt = linkedAt
    }
}

/// A subscription as stored: whose it is, what it grants, and the newest event it reflects.
public struct BillingSubscription: Sendable, Equatable {
    /// The customer that owns it.
    public var customer: String
    /// The time (ms since 1970) of the newest event applied to it.
    public var lastEventAt: Int64
    /// Ended for good (a deleted Stripe subscription): no later event changes it.
    public var final: Bool
    /// What it grants, in the event's order.
    public var grants: [Entitlement]

    /// Creates a subscription record.
    public init(customer: String, lastEventAt: Int64, final: Bool, grants: [Entitlement]) {
        self.customer = customer
        self.lastEventAt = lastEventAt
        self.final = final
        self.grants = grants
    }
}

/// A customer whose purchases moved to another customer (RevenueCat's `TRANSFER`), kept so that an
/// older event of that customer arriving later still lands on the destination.
public struct BillingTransfer: Sendable, Equatable {
    /// The customer the purchases moved to.
    public var to: String
    /// The time (ms since 1970) of the transfer.
    public var at: Int64

    /// Creates a transfer record.
    public init(to: String, at: Int64) {
        self.to = to
        self.at = at
    }
}

/// The stored payment state of one source that a ``BillingLedger`` decision reads. A store fills
/// it with exactly the rows the ledger asks for (``BillingKeys``); a key present with a nil value
/// means "read, and absent".
public struct BillingSnapshot: Sendable, Equatable {
    /// Customers by id.
    public var customers: [String: BillingCustomer?] = [:]
    /// Subscriptions by id.
    public var subscriptions: [String: BillingSubscription?] = [:]
    /// Transfers by the customer they moved from.
    public var transfers: [String: BillingTransfer?] = [:]
    /// Whether an id is a Tegata user.
    public var users: [String: Bool] = [:]
    /// Every customer (of this source) linked to a user, by user id.
    public var customersOfUser: [String: [String]] = [:]
    /// Every subscription owned by a customer, by customer id.
    public var subscriptionsOfCustomer: [String: [String]] = [:]

    /// An empty snapshot.
    public init() {}
}

/// Rows a ledger decision needs that the snapshot does not hold yet.
public struct BillingKeys: Sendable, Equatable {
    /// Customer ids to read.
    public var customers: Set<String> = []
    /// Subscription ids to read (with their grants).
    public var subscriptions: Set<String> = []
    /// Customer ids whose transfer record to read.
    public var transfers: Set<String> = []
    /// Ids to check for being Tegata users.
    public var users: Set<String> = []
    /// User ids whose linked customers to list.
    public var customersOfUser: Set<String> = []
    /// Customer ids whose subscriptions to list.
    public var subscriptionsOfCustomer: Set<String> = []

    /// Nothing is missing.
    public var isEmpty: Bool {
        customers.isEmpty && subscriptions.isEmpty && transfers.isEmpty && users.isEmpty && customersOfUser.isEmpty
            && subscriptionsOfCustomer.isEmpty
    }
}

/// What applying a payment event writes (all in the transaction that recorded its id).
public struct BillingWrites: Sendable, Equatable {
    /// Applied, or stale (the subscription already reflects a newer event).
    public var outcome: BillingOutcome
    /// Customer rows to insert or replace.
    public var customers: [String: BillingCustomer] = [:]
    /// Subscription rows to insert or replace, grants included (the stored grants are replaced).
    public var subscriptions: [String: BillingSubscription] = [:]
    /// Transfer rows to insert or replace.
    public var transfers: [String: BillingTransfer] = [:]
    /// The users whose entitlements must be recomputed (``Entitlement/merged(_:)``) after the
    /// writes, in a stable order.
    public var touchedUsers: [String] = []
}

/// The decision for one payment event.
public enum BillingDecision: Sendable, Equatable {
    /// Read these rows into the snapshot and ask again.
    case read(BillingKeys)
    /// Write this.
    case write(BillingWrites)
}

/// The payment rules, pure: order safety (an event older than what a subscription or a customer
/// link reflects never overwrites it), the same-time tie-break, transfers and their redirection,
/// customer links and aliases. The store records the event id (a known id is a duplicate and
/// reaches no decision), then loops — read the keys the ledger asks for, ask again — until it gets
/// writes, carries them out and recomputes the touched users' entitlements.
public enum BillingLedger {
    /// Decides for `event` on `snapshot`.
    public static func decide(_ event: BillingEvent, on snapshot: BillingSnapshot) -> BillingDecision {
        var run = Run(state: snapshot, time: event.occurredAt)
        for link in event.links {
            run.link(link.customer, to: link.userID)
        }
        if !event.aliases.isEmpty {
            run.linkAliases(event.aliases)
        }
        var outcome = BillingOutcome.applied
        if let change = event.change, !run.apply(change) {
            outcome = .stale
        }
        guard run.missing.isEmpty else { return .read(run.missing) }
        var writes = run.writes
        writes.outcome = outcome
        writes.touchedUsers = run.touched.sorted()
        return .write(writes)
    }

    /// One pass over an event: reads go to the working state (so a write is seen by later reads of
    /// the same event), and a read of a row not in the snapshot is noted as missing.
    private struct Run {
        var state: BillingSnapshot
        let time: Int64
        var missing = BillingKeys()
        var writes = BillingWrites(outcome: .applied)
        var touched = Set<String>()

        mutating func customer(_ id: String) -> BillingCustomer? {
            guard let value = state.customers[id] else { missing.customers.insert(id); return nil }
            return value
        }

        mutating func subscription(_ id: String) -> BillingSubscription? {
            guard let value = state.subscriptions[id] else { missing.subscriptions.insert(id); return nil }
            return value
        }

        mutating func transfer(_ customer: String) -> BillingTransfer? {
            guard let value = state.transfers[customer] else { missing.transfers.insert(customer); return nil }
            return value
        }

        mutating func isUser(_ id: String) -> Bool {
            guard let value = state.users[id] else { missing.users.insert(id); return false }
            return value
        }

        mutating func customers(ofUser user: String) -> [String] {
            guard let value = state.customersOfUser[user] else { missing.customersOfUser.insert(user); return [] }
            return value
        }

        mutating func subscriptions(ofCustomer customer: String) -> [String] {
            guard let value = state.subscriptionsOfCustomer[customer] else {
                missing.subscriptionsOfCustomer.insert(customer)
                return []
            }
            return value
        }

        mutating func write(_ customer: BillingCustomer, as id: String) {
            if let previous = state.customers[id] ?? nil, let user = previous.userID, user != customer.userID {
                state.customersOfUser[user]?.removeAll { $0 == id }
            }
            if let user = customer.userID, state.customersOfUser[user]?.contains(id) == false {
                state.customersOfUser[user]?.append(id)
            }
            state.customers[id] = customer
            writes.customers[id] = customer
        }

        mutating func write(_ subscription: BillingSubscription, as id: String) {
            if let previous = state.subscriptions[id] ?? nil, previous.customer != subscription.customer {
                state.subscriptionsOfCustomer[previous.customer]?.removeAll { $0 == id }
                state.subscriptionsOfCustomer[subscription.customer]?.append(id)
            } else if state.subscriptions[id] == .some(nil), state.subscriptionsOfCustomer[subscription.customer]?.contains(id) == false {
                state.subscriptionsOfCustomer[subscription.customer]?.append(id)
            }
            state.subscriptions[id] = subscription
            writes.subscriptions[id] = subscription
        }

        mutating func touch(customer id: String) {
            if let user = customer(id)?.userID { touched.insert(user) }
        }

        /// Links a customer to a user, unless that link is already stored or a newer link is. An
        /// unlinked customer takes any link.
        mutating func link(_ id: String, to user: String) {
            if let previous = customer(id) {
                guard previous.userID != user, previous.userID == nil || previous.linkedAt <= time else { return }
                if let previousUser = previous.userID { touched.insert(previousUser) }
            }
            write(BillingCustomer(userID: user, linkedAt: time), as: id)
            touched.insert(user)
        }

        /// The ids of one subscriber: the first that is a Tegata user links all of them to it. If
        /// none is, they are recorded unlinked, so their subscriptions count once a later event
        /// links them.
        mutating func linkAliases(_ aliases: [String]) {
            // Every alias is asked about in one pass (not up to the first user), so a long list of
            // aliases needs one read, not one per alias.
            let areUsers = aliases.map { isUser($0) }
            let user = zip(aliases, areUsers).first { $0.1 }?.0
            for alias in aliases {
                if let user {
                    link(alias, to: user)
                } else if customer(alias) == nil, state.customers[alias] != nil {
                    write(BillingCustomer(userID: nil, linkedAt: time), as: alias)
                }
            }
        }

        /// Applies a subscription change; false if the stored state is newer (nothing changed).
        mutating func apply(_ change: SubscriptionChange) -> Bool {
            switch change {
            case .grant(let subscription, let customer, let entitlements):
                return replace(subscription, customer: customer, grants: entitlements, final: false)
            case .end(let subscription, let customer, let final):
                return replace(subscription, customer: customer, grants: [], final: final)
            case .transfer(let from, let to):
                // From the named ids, and every id linked to a user one of them is linked to.
                var sources = Set(from)
                for id in from {
                    if let user = customer(id)?.userID {
                        sources.formUnion(customers(ofUser: user))
                    }
                }
                for id in sources.sorted() where id != to {
                    if let previous = transfer(id), previous.at > time {
                        // A newer transfer of this customer is stored; it keeps its destination.
                    } else if state.transfers[id] != nil {
                        let record = BillingTransfer(to: to, at: time)
                        state.transfers[id] = record
                        writes.transfers[id] = record
                    }
                    touch(customer: id)
                    for subscriptionID in subscriptions(ofCustomer: id) {
                        guard var moved = subscription(subscriptionID), moved.customer == id,
                              moved.lastEventAt <= time, !moved.final
                        else { continue }
                        moved.customer = to
                        moved.lastEventAt = time
                        write(moved, as: subscriptionID)
                    }
                }
                touch(customer: to)
                return true
            }
        }

        /// Replaces a subscription's grants, unless a newer event (or a final end) is stored. At the
        /// same time (Stripe's timestamps are seconds, and a subscription is often created and
        /// activated within one), a grant wins over a non-final end, so the usual
        /// `incomplete → active` pair never ends in "nothing granted" whatever order it arrives in.
        mutating func replace(_ id: String, customer owner: String, grants: [Entitlement], final: Bool) -> Bool {
            if let stored = subscription(id) {
                if stored.final || stored.lastEventAt > time { return false }
                if stored.lastEventAt == time, grants.isEmpty, !final, !stored.grants.isEmpty { return false }
                touch(customer: stored.customer)
            }
            // A customer whose purchases were transferred after this event happened: the
            // subscription is the transfer's destination's.
            var owner = owner
            if let transfer = transfer(owner), transfer.at > time {
                owner = transfer.to
            }
            write(BillingSubscription(customer: owner, lastEventAt: time, final: final, grants: grants), as: id)
            touch(customer: owner)
            return true
        }
    }
}

extension Entitlement {
    /// A user's entitlements from the grants of every subscription of every customer linked to it:
    /// one per name, with no end if any grant has none, else the latest end; sorted by name.
    public static func merged(_ grants: [Entitlement]) -> [Entitlement] {
        var byName: [String: Entitlement] = [:]
        for grant in grants {
            guard let kept = byName[grant.name] else {
                byName[grant.name] = grant
                continue
            }
            if let keptEnd = kept.expiresAt, let end = grant.expiresAt {
                byName[grant.name] = Entitlement(name: grant.name, expiresAt: max(keptEnd, end))
            } else {
                byName[grant.name] = Entitlement(name: grant.name, expiresAt: nil)
            }
        }
        return byName.keys.sorted().map { byName[$0]! }
    }
}
