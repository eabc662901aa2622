import Foundation
import TegataCore
import TegataWire

/// What operators read: a user's devices, and users found by identity, device or creation time.
extension SQLiteStore {
    public func devices(ofUser userID: String) async throws -> [DeviceSummary] {
        try await readers.read { db in
            try db.query(
                "SELECT id, platform, created_at, last_sign_in_at, revoked_at FROM devices WHERE user_id = ? ORDER BY created_at, id",
                [.text(userID)]
            ).map { row in
                DeviceSummary(
                    id: try row.string("id"), platform: try row.string("platform"), createdAt: try row.date("created_at"),
                    lastSignInAt: try row.date("last_sign_in_at"), revokedAt: try row.optionalDate("revoked_at"))
            }
        }
    }

    public func findUsers(_ query: UserQuery) async throws -> UserPage {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let identity = query.identity {
            conditions.append("id IN (SELECT user_id FROM identities WHERE provider = ? AND subject = ?)")
            values += [.text(identity.provider), .text(identity.subject)]
        }
        if let device = query.deviceID {
            conditions.append("id IN (SELECT user_id FROM devices WHERE id = ?)")
            values.append(.text(device))
        }
        if let after = query.createdAfter { conditions.append("created_at >= ?"); values.append(.date(after)) }
        if let before = query.createdBefore { conditions.append("created_at < ?"); values.append(.date(before)) }
        if let cursor = query.after {
            conditions.append("(created_at > ? OR (created_at = ? AND id > ?))")
            values += [.date(cursor.createdAt), .date(cursor.createdAt), .text(cursor.userID)]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        values.append(.int(query.limit + 1))
        let sql = "SELECT * FROM users \(filter) ORDER BY created_at, id LIMIT ?"
        let bound = values
        let limit = query.limit
        return try await readers.read { db in
            UserPage.of(try db.query(sql, bound).map(Self.user(from:)), limit: limit)
        }
    }

    public func disableUser(id: String, until: Date?, now: Date, eventUntil: Date) async throws -> Bool {
        try await writer.write { db in
            guard let version = try db.query(
                "UPDATE users SET disabled_at = ?, disabled_until = ? WHERE id = ? RETURNING token_version",
                [.date(now), .optionalDate(until), .text(id)]
            ).first?.int("token_version") else { return false }
            let live = try db.query("SELECT id, device_id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", [.text(id)]).map {
                SessionHandle(id: try $0.string("id"), deviceID: try $0.optionalString("device_id"))
            }
            let plan = SessionRevocationPlan.many(
                userID: id, live: live, except: nil, bumpTokenVersion: true, tokenVersion: version, devices: .none,
                userDevices: [], eventUntil: eventUntil)
            try Self.carryOut(plan, userID: id, reason: "disabled", now: now, on: db)
            return true
        }
    }

    public func setAppClaims(userID: String, claims: [String: JSONValue]) async throws -> Bool {
        let text = AppClaimRules.storedText(claims)
        return try await writer.write { db in
            try !db.query("UPDATE users SET app_claims = ? WHERE id = ? RETURNING id", [.optionalText(text), .text(userID)]).isEmpty
        }
    }

    public func enableUser(id: String) async throws -> Bool {
        try await writer.write { db in
            try !db.query(
                "UPDATE users SET disabled_at = NULL, disabled_until = NULL WHERE id = ? RETURNING id", [.text(id)]).isEmpty
        }
    }
}
