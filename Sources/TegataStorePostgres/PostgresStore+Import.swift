import Foundation
import PostgresNIO
import TegataCore
import TegataWire

/// Importing users: the whole batch is one transaction, each record read (its user row locked)
/// and decided on what the records before it wrote. An identity, device or customer that a
/// sign-in or a webhook inserts meanwhile hits its unique key and the batch runs again.
extension PostgresStore {
    public func importUsers(_ records: [UserImport], now: Date) async throws -> [UserImportOutcome] {
        try await transaction { connection in
            let logger = self.logger
            // Customer links are the billing ledger's state: the batch takes every source's lock
            // first (webhooks take one at a time, then user rows), so neither sees the other half-done.
            for source in BillingSource.allCases.map(\.rawValue).sorted() {
                try await connection.run("SELECT pg_advisory_xact_lock(\(Self.billingLock), hashtext(\(source)))", logger: logger)
            }
            var outcomes: [UserImportOutcome] = []
            for record in records {
                let state = try await Self.importState(of: record, on: connection, logger: logger)
                let plan = UserImportDecision.decide(record, state: state, now: now)
                if case .write(let writes) = plan {
                    try await Self.carryOut(writes, userID: record.id, now: now, on: connection, logger: logger)
                }
                outcomes.append(UserImportOutcome(plan))
            }
            return outcomes
        }
    }

    private static func importState(of record: UserImport, on connection: PostgresConnection, logger: Logger) async throws -> UserImportState {
        let exists = try await !rows("SELECT 1 FROM users WHERE id = \(record.id) FOR UPDATE", on: connection, logger: logger).isEmpty
        var state = UserImportState(user: exists ? try await userRecord(userID: record.id, on: connection, logger: logger) : nil)
        for identity in record.identities {
            if let owner = try await rows(
                "SELECT user_id FROM identities WHERE provider = \(identity.provider) AND subject = \(identity.subject)",
                on: connection, logger: logger
            ).first {
                state.identityOwners[.init(provider: identity.provider, subject: identity.subject)] = try owner["user_id"].decode(String.self)
            }
        }
        for device in record.devices {
            if let owner = try await rows("SELECT user_id FROM devices WHERE id = \(device.id)", on: connection, logger: logger).first {
                state.deviceOwners[device.id] = try owner["user_id"].decode(String.self)
            }
        }
        for customer in record.customers + [ImportedCustomer(source: .revenuecat, id: record.id)] {
            if let row = try await rows(
                "SELECT user_id FROM billing_customers WHERE source = \(customer.source.rawValue) AND customer = \(customer.id)",
                on: connection, logger: logger
            ).first {
                state.customers[customer] = .some(try row["user_id"].decode(String?.self))
            }
        }
        state.importedEntitlements = try await rows(
            "SELECT name, expires_at FROM billing_grants WHERE source = \(UserImport.billingSource) AND subscription = \(record.id)",
            on: connection, logger: logger
        ).map { Entitlement(name: try $0["name"].decode(String.self), expiresAt: try $0["expires_at"].decode(Int64?.self).map(Date.init(ms:))) }
        return state
    }

    private static func carryOut(
        _ writes: UserImportWrites, userID: String, now: Date, on connection: PostgresConnection, logger: Logger
    ) async throws {
        if let user = writes.newUser {
            _ = try await insertUser(id: user.id, anon: user.anon, now: user.createdAt, on: connection, logger: logger)
        }
        if writes.makePermanent { try await connection.run("UPDATE users SET anon = false WHERE id = \(userID)", logger: logger) }
        for identity in writes.identities {
            try await insert(
                ExternalIdentity(provider: identity.provider, subject: identity.subject, email: identity.email), userID: userID,
                now: identity.linkedAt, on: connection, logger: logger)
        }
        for device in writes.devices {
            // No secret: the empty hash matches no secret, so the device signs in only once claimed.
            try await connection.run(
                """
                INSERT INTO devices (id, user_id, secret_hash, platform, created_at, last_sign_in_at)
                VALUES (\(device.id), \(userID), \(Data()), \(device.platform), \(device.createdAt.ms), \(device.lastSignInAt.ms))
                """, logger: logger)
        }
        for customer in writes.customers {
            try await connection.run(
                """
                INSERT INTO billing_customers (source, customer, user_id, linked_at)
                VALUES (\(customer.source.rawValue), \(customer.id), \(userID), \(now.ms))
                ON CONFLICT (source, customer) DO UPDATE SET user_id = excluded.user_id, linked_at = excluded.linked_at
                """, logger: logger)
        }
        if let entitlements = writes.entitlements {
            let source = UserImport.billingSource
            try await connection.run(
                """
                INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (\(source), \(userID), \(userID), 0)
                ON CONFLICT (source, customer) DO NOTHING
                """, logger: logger)
            try await connection.run(
                """
                INSERT INTO billing_subscriptions (source, subscription, customer, last_event_at, final)
                VALUES (\(source), \(userID), \(userID), 0, false)
                ON CONFLICT (source, subscription) DO NOTHING
                """, logger: logger)
            try await connection.run("DELETE FROM billing_grants WHERE source = \(source) AND subscription = \(userID)", logger: logger)
            for entitlement in entitlements {
                try await connection.run(
                    """
                    INSERT INTO billing_grants (source, subscription, name, expires_at)
                    VALUES (\(source), \(userID), \(entitlement.name), \(entitlement.expiresAt?.ms))
                    """, logger: logger)
            }
        }
        if let claims = writes.claims {
            try await connection.run("UPDATE users SET app_claims = \(AppClaimRules.storedText(claims)) WHERE id = \(userID)", logger: logger)
        }
        if writes.recomputesEntitlements { try await recomputeEntitlements(userID: userID, on: connection, logger: logger) }
    }
}
