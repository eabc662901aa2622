import Foundation
import PostgresNIO
import TegataCore
import TegataWire

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
                SELECT id, anon, created_at, token_version, disabled_at, disabled_until FROM users
                WHERE (\(provider)::TEXT IS NULL OR id IN (
                        SELECT user_id FROM identities WHERE provider = \(provider) AND subject = \(subject)))
                  AND (\(device)::TEXT IS NULL OR id IN (SELECT user_id FROM devices WHERE id = \(device)))
                  AND (\(after)::BIGINT IS NULL OR created_at >= \(after))
                  AND (\(before)::BIGINT IS NULL OR created_at < \(before))
                  AND (\(cursorTime)::BIGINT IS NULL OR (created_at, id) > (\(cursorTime), \(cursorID)::TEXT))
                ORDER BY created_at, id LIMIT \(limit + 1)
                """, on: connection, logger: self.logger)
            return UserPage.of(try rows.map { try Self.user(from: $0) }, limit: limit)
        }
    }

    public func disableUser(id: String, until: Date?, now: Date, eventUntil: Date) async throws -> Bool {
        try await transaction { connection in
            let logger = self.logger
            // The user row first, then its sessions in a fixed order, as a logout locks them.
            guard let version = try await Self.rows(
                "UPDATE users SET disabled_at = \(now.ms), disabled_until = \(until?.ms) WHERE id = \(id) RETURNING token_version",
                on: connection, logger: logger
            ).first.map({ try $0["token_version"].decode(Int64.self) }) else { return false }
            let live = try await Self.rows(
                "SELECT id, device_id FROM sessions WHERE user_id = \(id) AND revoked_at IS NULL ORDER BY id FOR UPDATE",
                on: connection, logger: logger
            ).map { SessionHandle(id: try $0["id"].decode(String.self), deviceID: try $0["device_id"].decode(String?.self)) }
            let plan = SessionRevocationPlan.many(
                userID: id, live: live, except: nil, bumpTokenVersion: true, tokenVersion: version, devices: .none,
                userDevices: [], eventUntil: eventUntil)
            try await Self.carryOut(plan, userID: id, reason: "disabled", now: now, on: connection, logger: logger)
            return true
        }
    }

    public func setAppClaims(userID: String, claims: [String: JSONValue]) async throws -> Bool {
        let text = AppClaimRules.storedText(claims)
        return try await transaction { connection in
            try await !Self.rows(
                "UPDATE users SET app_claims = \(text) WHERE id = \(userID) RETURNING id", on: connection, logger: self.logger
            ).isEmpty
        }
    }

    public func enableUser(id: String) async throws -> Bool {
        try await transaction { connection in
            try await !Self.rows(
                "UPDATE users SET disabled_at = NULL, disabled_until = NULL WHERE id = \(id) RETURNING id",
                on: connection, logger: self.logger
            ).isEmpty
        }
    }
}
