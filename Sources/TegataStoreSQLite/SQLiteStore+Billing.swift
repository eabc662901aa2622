import Foundation
import TegataCore

/// Payment state (migration 4). Each event is one write job: its id, the writes the core's
/// ``BillingLedger`` decides, and the recomputed entitlements of the users it touched commit
/// together. The single writer is what keeps the ledger's snapshot unchanged until its writes commit.
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

            var snapshot = BillingSnapshot()
            var rounds = 0
            while true {
                switch BillingLedger.decide(event, on: snapshot) {
                case .read(let keys):
                    rounds += 1
                    // Each round reads at least one new row; an event names only a few.
                    guard rounds <= 32 else { throw StorageError(description: "a billing decision kept asking for more rows") }
                    try Self.read(keys, source: source, into: &snapshot, on: db)
                case .write(let writes):
                    try Self.carryOut(writes, source: source, on: db)
                    if writes.outcome == .stale {
                        try db.query(
                            "UPDATE billing_events SET outcome = 'stale' WHERE source = ? AND event_id = ?",
                            [.text(source), .text(event.id)])
                    }
                    for user in writes.touchedUsers {
                        try Self.recomputeEntitlements(userID: user, on: db)
                    }
                    return writes.outcome
                }
            }
        }
    }

    /// Reads the rows the ledger asked for into its snapshot.
    private static func read(_ keys: BillingKeys, source: String, into snapshot: inout BillingSnapshot, on db: Database) throws {
        for id in keys.customers {
            let customer: BillingCustomer? = try db.query(
                "SELECT user_id, linked_at FROM billing_customers WHERE source = ? AND customer = ?", [.text(source), .text(id)]
            ).first.map { BillingCustomer(userID: try $0.optionalString("user_id"), linkedAt: try $0.int("linked_at")) }
            // (Typed first: assigned directly, an absent row would remove the key rather than store "absent".)
            snapshot.customers[id] = .some(customer)
        }
        for id in keys.subscriptions {
            let key: [SQLValue] = [.text(source), .text(id)]
            let subscription: BillingSubscription? = try db.query(
                "SELECT customer, last_event_at, final FROM billing_subscriptions WHERE source = ? AND subscription = ?", key
            ).first.map { row in
                let grants = try db.query(
                    "SELECT name, expires_at FROM billing_grants WHERE source = ? AND subscription = ? ORDER BY name", key
                ).map { Entitlement(name: try $0.string("name"), expiresAt: try $0.optionalDate("expires_at")) }
                return BillingSubscription(
                    customer: try row.string("customer"), lastEventAt: try row.int("last_event_at"), final: try row.bool("final"),
                    grants: grants)
            }
            snapshot.subscriptions[id] = .some(subscription)
        }
        for id in keys.transfers {
            let transfer: BillingTransfer? = try db.query(
                "SELECT to_customer, transferred_at FROM billing_transfers WHERE source = ? AND customer = ?", [.text(source), .text(id)]
            ).first.map { BillingTransfer(to: try $0.string("to_customer"), at: try $0.int("transferred_at")) }
            snapshot.transfers[id] = .some(transfer)
        }
        for id in keys.users {
            snapshot.users[id] = try !db.query("SELECT 1 FROM users WHERE id = ?", [.text(id)]).isEmpty
        }
        for user in keys.customersOfUser {
            snapshot.customersOfUser[user] = try db.query(
                "SELECT customer FROM billing_customers WHERE source = ? AND user_id = ? ORDER BY customer", [.text(source), .text(user)]
            ).map { try $0.string("customer") }
        }
        for customer in keys.subscriptionsOfCustomer {
            snapshot.subscriptionsOfCustomer[customer] = try db.query(
                "SELECT subscription FROM billing_subscriptions WHERE source = ? AND customer = ? ORDER BY subscription",
                [.text(source), .text(customer)]
            ).map { try $0.string("subscription") }
        }
    }

    /// Writes what the ledger decided, in a stable order.
    private static func carryOut(_ writes: BillingWrites, source: String, on db: Database) throws {
        for (id, customer) in writes.customers.sorted(by: { $0.key < $1.key }) {
            try db.query(
                """
                INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (source, customer) DO UPDATE SET user_id = excluded.user_id, linked_at = excluded.linked_at
                """,
                [.text(source), .text(id), .optionalText(customer.userID), .integer(customer.linkedAt)])
        }
        for (id, subscription) in writes.subscriptions.sorted(by: { $0.key < $1.key }) {
            let key: [SQLValue] = [.text(source), .text(id)]
            try db.query(
                """
                INSERT INTO billing_subscriptions (source, subscription, customer, last_event_at, final) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (source, subscription) DO UPDATE SET
                    customer = excluded.customer, last_event_at = excluded.last_event_at, final = excluded.final
                """,
                key + [.text(subscription.customer), .integer(subscription.lastEventAt), .bool(subscription.final)])
            try db.query("DELETE FROM billing_grants WHERE source = ? AND subscription = ?", key)
            for grant in subscription.grants {
                try db.query(
                    "INSERT INTO billing_grants (source, subscription, name, expires_at) VALUES (?, ?, ?, ?)",
                    key + [.text(grant.name), .optionalDate(grant.expiresAt)])
            }
        }
        for (id, transfer) in writes.transfers.sorted(by: { $0.key < $1.key }) {
            try db.query(
                """
                INSERT INTO billing_transfers (source, customer, to_customer, transferred_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (source, customer) DO UPDATE SET
                    to_customer = excluded.to_customer, transferred_at = excluded.transferred_at
                """,
                [.text(source), .text(id), .text(transfer.to), .integer(transfer.at)])
        }
    }

    /// Rewrites a user's `entitlements` rows (what tokens and `/v1/me` read) as the core merges the
    /// grants of every subscription of every customer linked to it, from every source. A user id
    /// that is not (or no longer) a user gets nothing.
    static func recomputeEntitlements(userID: String, on db: Database) throws {
        guard try !db.query("SELECT 1 FROM users WHERE id = ?", [.text(userID)]).isEmpty else { return }
        let grants = try db.query(
            """
            SELECT g.name, g.expires_at FROM billing_customers c
            JOIN billing_subscriptions s ON s.source = c.source AND s.customer = c.customer
            JOIN billing_grants g ON g.source = s.source AND g.subscription = s.subscription
            WHERE c.user_id = ?
            """,
            [.text(userID)]
        ).map { Entitlement(name: try $0.string("name"), expiresAt: try $0.optionalDate("expires_at")) }
        try db.query("DELETE FROM entitlements WHERE user_id = ?", [.text(userID)])
        for entitlement in Entitlement.merged(grants) {
            try db.query(
                "INSERT INTO entitlements (user_id, name, expires_at) VALUES (?, ?, ?)",
                [.text(userID), .text(entitlement.name), .optionalDate(entitlement.expiresAt)])
        }
    }
}
