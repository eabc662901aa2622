import Foundation
import TegataCore

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
        let sql = "SELECT id, anon, created_at, token_version FROM users \(filter) ORDER BY created_at, id LIMIT ?"
        let bound = values
        let limit = query.limit
        return try await readers.read { db in
            let users = try db.query(sql, bound).map { row in
                User(
                    id: try row.string("id"), anon: try row.bool("anon"), createdAt: try row.date("created_at"),
                    tokenVersion: try row.int("token_version"))
            }
            return UserPage.of(users, limit: limit)
        }
    }
}
