import Foundation
import TegataCore

/// Payment state (migration 4). Each event is one write job: its id, its customer links, its
/// subscription change and the recomputed entitlements of the users it touched commit together.
extension SQLiteStore {
    public func applyBillingEvent(_ event: BillingEvent, now: Date) async throws -> BillingOutcome {
        try await writer.write { db in
            let source = event.source.rawValue
            let inserted = try db.query(
                """
                INSERT INTO billing_events (source, event_id, type, occurred_at, received_at, outcome)
                VALUES (?, ?, ?, ?, ?, 'applied') ON CONFLICT DO NOTHING RETURNING 1 AS inserted
                """,
                [.text(source), .text(event.id), .text(event.type), .integer(event.occurredAt), .date(now)])
            guard !inserted.isEmpty else { return .duplicate }

            var touched = Set<String>()
            for link in event.links {
                try Self.link(source: source, customer: link.customer, to: link.userID, at: event.occurredAt, touched: &touched, on: db)
            }
            if !event.aliases.isEmpty {
                try Self.linkAliases(event.aliases, source: source, at: event.occurredAt, touched: &touched, on: db)
            }
            var outcome = BillingOutcome.applied
            if let change = event.change {
                if try !Self.apply(change, source: source, at: event.occurredAt, touched: &touched, on: db) {
                    outcome = .stale
                    try db.query(
                        "UPDATE billing_events SET outcome = 'stale' WHERE source = ? AND event_id = ?",
                        [.text(source), .text(event.id)])
                }
            }
            for user in touched.sorted() {
                try Self.recomputeEntitlements(userID: user, on: db)
            }
            return outcome
        }
    }

    /// Links a customer to a user, unless the link already stored is newer.
    private static func link(
        source: String, customer: String, to userID: String, at time: Int64, touched: inout Set<String>, on db: Database
    ) throws {
        let previous = try db.query(
            "SELECT user_id, linked_at FROM billing_customers WHERE source = ? AND customer = ?",
            [.text(source), .text(customer)]
        ).first
        if let previous {
            let previousUser = try previous.optionalString("user_id")
            let previousTime = try previous.int("linked_at")
            // Unchanged, or a newer link is stored: nothing to do. An unlinked id takes any link.
            guard previousUser != userID, previousUser == nil || previousTime <= time else { return }
            if let previousUser { touched.insert(previousUser) }
        }
        try db.query(
            """
            INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (source, customer) DO UPDATE SET user_id = excluded.user_id, linked_at = excluded.linked_at
            """,
            [.text(source), .text(customer), .text(userID), .integer(time)])
        touched.insert(userID)
    }

    /// The ids of one subscriber: the first that is a Tegata user links all of them to it. If none
    /// is, they are recorded unlinked, so their subscriptions count once a later event links them.
    private static func linkAliases(
        _ aliases: [String], source: String, at time: Int64, touched: inout Set<String>, on db: Database
    ) throws {
        var user: String?
        for alias in aliases where try !db.query("SELECT 1 FROM users WHERE id = ?", [.text(alias)]).isEmpty {
            user = alias
            break
        }
        for alias in aliases {
            if let user {
                try link(source: source, customer: alias, to: user, at: time, touched: &touched, on: db)
            } else {
                try db.query(
                    """
                    INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (?, ?, NULL, ?)
                    ON CONFLICT DO NOTHING
                    """,
                    [.text(source), .text(alias), .integer(time)])
            }
        }
    }

    /// Applies a subscription change; false if the stored state is newer (nothing changed).
    private static func apply(
        _ change: SubscriptionChange, source: String, at time: Int64, touched: inout Set<String>, on db: Database
    ) throws -> Bool {
        switch change {
        case .grant(let subscription, let customer, let entitlements):
            return try replace(
                subscription: subscription, customer: customer, grants: entitlements, final: false,
                source: source, at: time, touched: &touched, on: db)
        case .end(let subscription, let customer, let final):
            return try replace(
                subscription: subscription, customer: customer, grants: [], final: final,
                source: source, at: time, touched: &touched, on: db)
        case .transfer(let from, let to):
            // The customers to move from: the named ids, and every id linked to a user they are linked to.
            var customers = Set(from)
            for id in from {
                let rows = try db.query(
                    """
                    SELECT other.customer FROM billing_customers named
                    JOIN billing_customers other ON other.source = named.source AND other.user_id = named.user_id
                    WHERE named.source = ? AND named.customer = ?
                    """,
                    [.text(source), .text(id)])
                for row in rows { customers.insert(try row.string("customer")) }
            }
            for customer in customers.sorted() where customer != to {
                // Recorded, so that an older event of this customer that arrives later still lands on `to`.
                try db.query(
                    """
                    INSERT INTO billing_transfers (source, customer, to_customer, transferred_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (source, customer) DO UPDATE SET
                        to_customer = excluded.to_customer, transferred_at = excluded.transferred_at
                    WHERE excluded.transferred_at >= billing_transfers.transferred_at
                    """,
                    [.text(source), .text(customer), .text(to), .integer(time)])
                try touchUser(ofCustomer: customer, source: source, touched: &touched, on: db)
                try db.query(
                    """
                    UPDATE billing_subscriptions SET customer = ?, last_event_at = ?
                    WHERE source = ? AND customer = ? AND last_event_at <= ? AND final = 0
                    """,
                    [.text(to), .integer(time), .text(source), .text(customer), .integer(time)])
            }
            try touchUser(ofCustomer: to, source: source, touched: &touched, on: db)
            return true
        }
    }

    /// Replaces a subscription's grants, unless a newer event (or a final end) is already stored.
    /// At the same time (Stripe's timestamps are seconds, and a subscription is often created and
    /// activated within one), a grant wins over a non-final end, so the usual
    /// `incomplete → active` pair never ends in "nothing granted" whatever order it arrives in.
    private static func replace(
        subscription: String, customer: String, grants: [Entitlement], final: Bool,
        source: String, at time: Int64, touched: inout Set<String>, on db: Database
    ) throws -> Bool {
        let key: [SQLValue] = [.text(source), .text(subscription)]
        if let stored = try db.query(
            "SELECT customer, last_event_at, final FROM billing_subscriptions WHERE source = ? AND subscription = ?", key
        ).first {
            let storedAt = try stored.int("last_event_at")
            if try stored.bool("final") || storedAt > time { return false }
            if storedAt == time, grants.isEmpty, !final {
                let granting = try !db.query(
                    "SELECT 1 FROM billing_grants WHERE source = ? AND subscription = ? LIMIT 1", key).isEmpty
                if granting { return false }
            }
            try touchUser(ofCustomer: try stored.string("customer"), source: source, touched: &touched, on: db)
        }
        // A customer whose purchases were transferred after this event happened: the subscription is
        // the transfer's destination's.
        var customer = customer
        if let transfer = try db.query(
            "SELECT to_customer FROM billing_transfers WHERE source = ? AND customer = ? AND transferred_at > ?",
            [.text(source), .text(customer), .integer(time)]
        ).first {
            customer = try transfer.string("to_customer")
        }
        try db.query(
            """
            INSERT INTO billing_subscriptions (source, subscription, customer, last_event_at, final) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (source, subscription) DO UPDATE SET
                customer = excluded.customer, last_event_at = excluded.last_event_at, final = excluded.final
            """,
            key + [.text(customer), .integer(time), .bool(final)])
        try db.query("DELETE FROM billing_grants WHERE source = ? AND subscription = ?", key)
        for grant in grants {
            try db.query(
                "INSERT INTO billing_grants (source, subscription, name, expires_at) VALUES (?, ?, ?, ?)",
                key + [.text(grant.name), .optionalDate(grant.expiresAt)])
        }
        try touchUser(ofCustomer: customer, source: source, touched: &touched, on: db)
        return true
    }

    private static func touchUser(ofCustomer customer: String, source: String, touched: inout Set<String>, on db: Database) throws {
        let row = try db.query(
            "SELECT user_id FROM billing_customers WHERE source = ? AND customer = ?", [.text(source), .text(customer)]
        ).first
        if let user = try row?.optionalString("user_id") { touched.insert(user) }
    }

    /// Rewrites a user's `entitlements` rows (what tokens and `/v1/me` read) from the grants of every
    /// subscription of every customer linked to it: per name, no expiry if any grant has none, else
    /// the latest expiry. A user id that is not (or no longer) a user gets nothing.
    static func recomputeEntitlements(userID: String, on db: Database) throws {
        try db.query("DELETE FROM entitlements WHERE user_id = ?", [.text(userID)])
        try db.query(
            """
            INSERT INTO entitlements (user_id, name, expires_at)
            SELECT c.user_id, g.name, CASE WHEN COUNT(*) = COUNT(g.expires_at) THEN MAX(g.expires_at) END
            FROM billing_customers c
            JOIN billing_subscriptions s ON s.source = c.source AND s.customer = c.customer
            JOIN billing_grants g ON g.source = s.source AND g.subscription = s.subscription
            WHERE c.user_id = ? AND EXISTS (SELECT 1 FROM users WHERE id = c.user_id)
            GROUP BY c.user_id, g.name
            """,
            [.text(userID)])
    }
}
