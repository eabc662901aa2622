import Foundation
import PostgresNIO
import TegataCore

/// What operators read: a user's devices, and users found by identity, device or creation time.
extension PostgresStore {
    public func devices(ofUser userID: String) async throws -> [DeviceSummary] {
        try await read { connection in
            try await Self.rows(
                """
                SELECT id, platform, created_at, last_sign_in_at, revoked_at FROM devices
                WHERE user_id = \(userID) ORDER BY created_at, id
                """, on: connection, logger: self.logger
            ).map { row in
                DeviceSummary(
                    id: try row["id"].decode(String.self), platform: try row["platform"].decode(String.self),
                    createdAt: Date(ms: try row["created_at"].decode(Int64.self)),
                    lastSignInAt: Date(ms: try row["last_sign_in_at"].decode(Int64.self)),
                    revokedAt: try row["revoked_at"].decode(Int64?.self).map(Date.init(ms:)))
            }
        }
    }

    public func findUsers(_ query: UserQuery) async throws -> UserPage {
        let provider = query.identity?.provider, subject = query.identity?.subject
        let device = query.deviceID
        let after = query.createdAfter?.ms, before = query.createdBefore?.ms
        let cursorTime = query.after?.createdAt.ms, cursorID = query.after?.userID
        let limit = query.limit
        return try await read { connection in
            let rows = try await Self.rows(
                """
                SELECT id, anon, created_at, token_version FROM users
                WHERE (\(provider)::TEXT IS NULL OR id IN (
                        SELECT user_id FROM identities WHERE provider = \(provider) AND subject = \(subject)))
                  AND (\(device)::TEXT IS NULL OR id IN (SELECT user_id FROM devices WHERE id = \(device)))
                  AND (\(after)::BIGINT IS NULL OR created_at >= \(after))
                  AND (\(before)::BIGINT IS NULL OR created_at < \(before))
                  AND (\(cursorTime)::BIGINT IS NULL OR (created_at, id) > (\(cursorTime), \(cursorID)::TEXT))
                ORDER BY created_at, id LIMIT \(limit + 1)
                """, on: connection, logger: self.logger)
            let users = try rows.map { row in
                User(
                    id: try row["id"].decode(String.self), anon: try row["anon"].decode(Bool.self),
                    createdAt: Date(ms: try row["created_at"].decode(Int64.self)),
                    tokenVersion: try row["token_version"].decode(Int64.self))
            }
            return UserPage.of(users, limit: limit)
        }
    }
}
