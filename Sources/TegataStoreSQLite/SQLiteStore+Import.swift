import Foundation
import TegataCore
import TegataWire

/// Importing users: the whole batch is one write transaction (SQLite's one writer), each record
/// read and decided on what the records before it wrote.
extension SQLiteStore {
    public func importUsers(_ records: [UserImport], now: Date) async throws -> [UserImportOutcome] {
        try await writer.write { db in
            try records.map { record in
                let plan = UserImportDecision.decide(record, state: try Self.importState(of: record, on: db), now: now)
                if case .write(let writes) = plan { try Self.carryOut(writes, userID: record.id, now: now, on: db) }
                return UserImportOutcome(plan)
            }
        }
    }

    private static func importState(of record: UserImport, on db: Database) throws -> UserImportState {
        var state = UserImportState(user: try userRecord(userID: record.id, on: db))
        for identity in record.identities {
            if let owner = try db.query(
                "SELECT user_id FROM identities WHERE provider = ? AND subject = ?", [.text(identity.provider), .text(identity.subject)]
            ).first {
                state.identityOwners[.init(provider: identity.provider, subject: identity.subject)] = try owner.string("user_id")
            }
        }
        for device in record.devices {
            if let owner = try db.query("SELECT user_id FROM devices WHERE id = ?", [.text(device.id)]).first {
                state.deviceOwners[device.id] = try owner.string("user_id")
            }
        }
        for customer in record.customers + [ImportedCustomer(source: .revenuecat, id: record.id)] {
            if let row = try db.query(
                "SELECT user_id FROM billing_customers WHERE source = ? AND customer = ?", [.text(customer.source.rawValue), .text(customer.id)]
            ).first {
                state.customers[customer] = .some(try row.optionalString("user_id"))
            }
        }
        state.importedEntitlements = try db.query(
            "SELECT name, expires_at FROM billing_grants WHERE source = ? AND subscription = ?",
            [.text(UserImport.billingSource), .text(record.id)]
        ).map { Entitlement(name: try $0.string("name"), expiresAt: try $0.optionalDate("expires_at")) }
        return state
    }

    private static func carryOut(_ writes: UserImportWrites, userID: String, now: Date, on db: Database) throws {
        if let user = writes.newUser {
            _ = try insertUser(id: user.id, anon: user.anon, now: user.createdAt, on: db)
        }
        if writes.makePermanent { try db.query("UPDATE users SET anon = 0 WHERE id = ?", [.text(userID)]) }
        for identity in writes.identities {
            try insert(
                ExternalIdentity(provider: identity.provider, subject: identity.subject, email: identity.email), userID: userID,
                now: identity.linkedAt, on: db)
        }
        for device in writes.devices {
            // No secret: the empty hash matches no secret, so the device signs in only once claimed.
            try db.query(
                "INSERT INTO devices (id, user_id, secret_hash, platform, created_at, last_sign_in_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(device.id), .text(userID), .blob(Data()), .text(device.platform), .date(device.createdAt), .date(device.lastSignInAt)])
        }
        for customer in writes.customers {
            try db.query(
                """
                INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (source, customer) DO UPDATE SET user_id = excluded.user_id, linked_at = excluded.linked_at
                """,
                [.text(customer.source.rawValue), .text(customer.id), .text(userID), .integer(now.millisecondsSince1970)])
        }
        if let entitlements = writes.entitlements {
            let key: [SQLValue] = [.text(UserImport.billingSource), .text(userID)]
            try db.query(
                """
                INSERT INTO billing_customers (source, customer, user_id, linked_at) VALUES (?, ?, ?, 0)
                ON CONFLICT (source, customer) DO NOTHING
                """, key + [.text(userID)])
            try db.query(
                """
                INSERT INTO billing_subscriptions (source, subscription, customer, last_event_at, final) VALUES (?, ?, ?, 0, 0)
                ON CONFLICT (source, subscription) DO NOTHING
                """, key + [.text(userID)])
            try db.query("DELETE FROM billing_grants WHERE source = ? AND subscription = ?", key)
            for entitlement in entitlements {
                try db.query(
                    "INSERT INTO billing_grants (source, subscription, name, expires_at) VALUES (?, ?, ?, ?)",
                    key + [.text(entitlement.name), .optionalDate(entitlement.expiresAt)])
            }
        }
        if let claims = writes.claims {
            try db.query("UPDATE users SET app_claims = ? WHERE id = ?", [.optionalText(AppClaimRules.storedText(claims)), .text(userID)])
        }
        if writes.recomputesEntitlements { try recomputeEntitlements(userID: userID, on: db) }
    }
}
