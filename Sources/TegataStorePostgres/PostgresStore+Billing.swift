import Foundation
import PostgresNIO
import TegataCore

/// Payment state. Events of one source are applied one at a time across every replica (a
/// transaction-level advisory lock per source), so the core's ``BillingLedger`` reads a snapshot
/// that cannot change before its writes commit; a user's entitlements are recomputed under that
/// user's row lock, taken in a fixed order, so events of two sources touching one user serialise there.
extension PostgresStore {
    public func applyBillingEvent(_ event: BillingEvent, now: Date) async throws -> BillingOutcome {
        try await transaction { connection in
            let logger = self.logger
            let source = event.source.rawValue
            try await connection.run("SELECT pg_advisory_xact_lock(\(Self.billingLock), hashtext(\(source)))", logger: logger)
            let inserted = try await Self.rows(
                """
                INSERT INTO billing_events (source, event_id, type, occurred_at, received_at, outcome)
                VALUES (\(source), \(event.id), \(event.type), \(event.occurredAt), \(now.ms), 'applied')
                ON CONFLICT DO NOTHING RETURNING 1 AS inserted
                """, on: connection, logger: logger)
            guard !inserted.isEmpty else { return .duplicate }

            var snapshot = BillingSnapshot()
            var rounds = 0
            while true {
                switch BillingLedger.decide(event, on: snapshot) {
                case .read(let keys):
                    rounds += 1
                    guard rounds <= 32 else { throw PostgresStoreError(description: "a billing decision kept asking for more rows") }
                    try await Self.read(keys, source: source, into: &snapshot, on: connection, logger: logger)
                case .write(let writes):
                    try await Self.carryOut(writes, source: source, on: connection, logger: logger)
                    if writes.outcome == .stale {
                        try await connection.run(
                            "UPDATE billing_events SET outcome = 'stale' WHERE source = \(source) AND event_id = \(event.id)", logger: logger)
                    }
                    for user in writes.touchedUsers {
                        try await Self.recomputeEntitlements(userID: user, on: connection, logger: logger)
                    }
                    return writes.outcome
                }
            }
        }
    }

    /// The first key of the billing advisory locks ("billing" in ASCII, truncated to 32 bits).
    static let billingLock: Int32 = 0x6269_6C6C

    private static func read(
        _ keys: BillingKeys, source: String, into snapshot: inout BillingSnapshot, on connection: PostgresConnection, logger: Logger
    ) async throws {
        for id in keys.customers {
            let customer: BillingCustomer? = try await rows(
                "SELECT user_id, linked_at FROM billing_customers WHERE source = \(source) AND customer = \(id)", on: connection, logger: logger
            ).first.map { BillingCustomer(userID: try $0["user_id"].decode(String?.self), linkedAt: try $0["linked_at"].decode(Int64.self)) }
            // Typed first: assigned directly, an absent row would remove the key rather than store "absent".
            snapshot.customers[id] = .some(customer)
        }
        for id in keys.subscriptions {
            var subscription: BillingSubscription?
            if let row = try await rows(
                "SELECT customer, last_event_at, final FROM billing_subscriptions WHERE source = \(source) AND subscription = \(id)",
                on: connection, logger: logger
            ).first {
                let grants = try await rows(
                    "SELECT name, expires_at FROM billing_grants WHERE source = \(source) AND subscription = \(id) ORDER BY name",
                    on: connection, logger: logger
                ).map { Entitlement(name: try $0["name"].decode(String.self), expiresAt: try $0["expires_at"].decode(Int64?.self).map(Date.init(ms:))) }
                subscription = BillingSubscription(
                    customer: try row["customer"].decode(String.self), lastEventAt: try row["last_event_at"].decode(Int64.self),
                    final: try row["final"].decode(Bool.self), grants: grants)
            }
            snapshot.subscriptions[id] = .some(subscription)
        }
        for id in keys.transfers {
            let transfer: BillingTransfer? = try await rows(
                "SELECT to_customer, transferred_at FROM billing_transfers WHERE source = \(source) AND customer = \(id)",
                on: connection, logger: logger
            ).first.map { BillingTransfer(to: try $0["to_customer"].decode(String.self), at: try $0["transferred_at"].decode(Int64.self)) }
            snapshot.transfers[id] = .some(transfer)
        }
        for id in keys.users {
            snapshot.users[id] = try await !rows("SELECT 1 FROM users WHERE id = \(id)", on: connection, logger: logger).isEmpty
        }
        for user in keys.customersOfUser {
            snapshot.customersOfUser[user] = try await rows(
                "SELECT customer FROM billing_customers WHERE source = \(source) AND user_id = \(user) ORDER BY customer",
                on: connection, logger: logger
            ).map { try $0["customer"].decode(String.self) }
        }
        for customer in keys.subscriptionsOfCustomer {
            snapshot.subscriptionsOfCustomer[customer] = try await rows(
                "SELECT subscription FROM billing_subscriptions WHERE source = \(source) AND customer = \(customer) ORDER BY subscription",
                on: connection, logger: logger
            ).map { try $0["subscription"].decode(String.self) }
        }
    }

    private static func carryOut(_ writes: BillingWrites, source: String, on connection: PostgresConnection, logger: Logger) async throws {
        for (id, customer) in writes.customers.sorted(by: { $0.key < $1.key }) {
            try await connection.run(
                """
                INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (\(source), \(id), \(customer.userID), \(customer.linkedAt))
                ON CONFLICT (source, customer) DO UPDATE SET user_id = EXCLUDED.user_id, linked_at = EXCLUDED.linked_at
                """, logger: logger)
        }
        for (id, subscription) in writes.subscriptions.sorted(by: { $0.key < $1.key }) {
            try await connection.run(
                """
                INSERT INTO billing_subscriptions (source, subscription, customer, last_event_at, final)
                VALUES (\(source), \(id), \(subscription.customer), \(subscription.lastEventAt), \(subscription.final))
                ON CONFLICT (source, subscription) DO UPDATE SET
                    customer = EXCLUDED.customer, last_event_at = EXCLUDED.last_event_at, final = EXCLUDED.final
                """, logger: logger)
            try await connection.run("DELETE FROM billing_grants WHERE source = \(source) AND subscription = \(id)", logger: logger)
            for grant in subscription.grants {
                try await connection.run(
                    """
                    INSERT INTO billing_grants (source, subscription, name, expires_at)
                    VALUES (\(source), \(id), \(grant.name), \(grant.expiresAt?.ms))
                    """, logger: logger)
            }
        }
        for (id, transfer) in writes.transfers.sorted(by: { $0.key < $1.key }) {
            try await connection.run(
                """
                INSERT INTO billing_transfers (source, customer, to_customer, transferred_at) VALUES (\(source), \(id), \(transfer.to), \(transfer.at))
                ON CONFLICT (source, customer) DO UPDATE SET to_customer = EXCLUDED.to_customer, transferred_at = EXCLUDED.transferred_at
                """, logger: logger)
        }
    }

    /// Rewrites a user's entitlements as the core merges the grants of every subscription of every
    /// customer linked to it, from every source, under the user's row lock (nothing for an id that
    /// is not a user).
    static func recomputeEntitlements(userID: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard try await !rows("SELECT 1 FROM users WHERE id = \(userID) FOR UPDATE", on: connection, logger: logger).isEmpty else { return }
        let grants = try await rows(
            """
            SELECT g.name, g.expires_at FROM billing_customers c
            JOIN billing_subscriptions s ON s.source = c.source AND s.customer = c.customer
            JOIN billing_grants g ON g.source = s.source AND g.subscription = s.subscription
            WHERE c.user_id = \(userID)
            """, on: connection, logger: logger
        ).map { Entitlement(name: try $0["name"].decode(String.self), expiresAt: try $0["expires_at"].decode(Int64?.self).map(Date.init(ms:))) }
        try await connection.run("DELETE FROM entitlements WHERE user_id = \(userID)", logger: logger)
        for entitlement in Entitlement.merged(grants) {
            try await connection.run(
                "INSERT INTO entitlements (user_id, name, expires_at) VALUES (\(userID), \(entitlement.name), \(entitlement.expiresAt?.ms))",
                logger: logger)
        }
    }
}
