import Foundation
import PostgresNIO
import TegataCore
import TegataWire

/// Sessions: refresh, use and revocation. A refresh locks its session row, so concurrent refreshes
/// of one session — on any replica — serialise there and are each decided on the state the one
/// before left.
extension PostgresStore {
    public func refresh(_ command: RefreshCommand) async throws -> RefreshOutcome {
        try await transaction { connection in
            let logger = self.logger
            let session = try await connection.rows(Statements.LockSession(sessionID: command.sessionID), logger: logger)
                .first.map(Self.session(from:))
            let issued: Session
            let record: UserRecord?
            let effect = command.effect(for: session)
            if effect.issuesTokens, let spent = command.singleUse,
               try await !Self.recordSingleUse(key: spent.key, until: spent.until, now: command.now, on: connection, logger: logger) {
                return .rejected(.proofReplayed)
            }
            switch effect {
            case .rotate(let rotated):
                // The rotation and the user record the new tokens carry, in one statement.
                record = try await connection.rows(
                    Statements.Rotate(
                        sessionID: rotated.id, generation: rotated.generation, lastRefreshedAt: rotated.lastRefreshedAt.ms,
                        rotatedAt: rotated.rotatedAt.ms),
                    logger: logger
                ).first.map(Self.userRecord(from:))
                issued = rotated
            case .reissue(let current):
                record = try await Self.userRecord(userID: current.userID, on: connection, logger: logger)
                issued = current
            case .revoke(let sessionID, let event):
                try await Self.revoke(sessionIDs: [sessionID], reason: "refresh token reuse", now: command.now, on: connection, logger: logger)
                try await Self.insert([event], now: command.now, on: connection, logger: logger)
                return .revoked
            case .reject(let reason):
                return .rejected(reason)
            }
            guard let record else { return .rejected(.unknownSession) }
            return .issued(record, issued)
        }
    }

    public func authState(sessionID: String, jti: String?, withUser: Bool) async throws -> AuthState? {
        let body: @Sendable (PostgresConnection) async throws -> AuthState? = { connection in
            let logger = self.logger
            // One statement, so one snapshot, with or without the user record.
            let rows = withUser
                ? try await connection.rows(Statements.AuthStateWithUser(sessionID: sessionID, jti: jti), logger: logger)
                : try await connection.rows(Statements.AuthState(sessionID: sessionID, jti: jti), logger: logger)
            guard let row = rows.first else { return nil }
            return AuthState(
                session: try Self.session(from: row), userTokenVersion: try row["user_token_version"].decode(Int64.self),
                tokenRevoked: try row["token_revoked"].decode(Bool.self), user: withUser ? try Self.userRecord(from: row) : nil)
        }
        return try await read(body)
    }

    public func liveSessions(userID: String, now: Date, idleLifetime: TimeInterval) async throws -> [Session] {
        try await read { connection in
            try await Self.rows(
                """
                SELECT * FROM sessions
                WHERE user_id = \(userID) AND revoked_at IS NULL AND absolute_expires_at > \(now.ms)
                  AND last_refreshed_at > \(now.addingTimeInterval(-idleLifetime).ms)
                ORDER BY created_at, position
                """, on: connection, logger: self.logger
            ).map(Self.session(from:))
        }
    }

    public func sessions(ofUser userID: String) async throws -> [Session] {
        try await read { connection in
            try await Self.rows(
                "SELECT * FROM sessions WHERE user_id = \(userID) ORDER BY created_at, position", on: connection, logger: self.logger
            ).map(Self.session(from:))
        }
    }

    public func session(id: String) async throws -> Session? {
        try await read { connection in
            try await Self.rows("SELECT * FROM sessions WHERE id = \(id)", on: connection, logger: self.logger).first.map(Self.session(from:))
        }
    }

    public func revokeSession(
        id: String, ownedBy userID: String?, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws -> Bool {
        try await transaction { connection in
            let logger = self.logger
            guard let row = try await Self.rows(
                "SELECT user_id, device_id FROM sessions WHERE id = \(id) AND revoked_at IS NULL FOR UPDATE", on: connection, logger: logger
            ).first else { return false }
            let owner = try row["user_id"].decode(String.self)
            guard userID == nil || owner == userID else { return false }
            let session = SessionHandle(id: id, deviceID: try row["device_id"].decode(String?.self))
            let userDevices = devices == .none || session.deviceID == nil
                ? [] : try await Self.unrevokedDevices(of: owner, on: connection, logger: logger)
            try await Self.carryOut(
                SessionRevocationPlan.one(session, devices: devices, userDevices: userDevices, eventUntil: eventUntil),
                userID: owner, reason: "revoked", now: now, on: connection, logger: logger)
            return true
        }
    }

    public func revokeSessions(
        userID: String, except: String?, bumpTokenVersion: Bool, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws {
        try await transaction { connection in
            let logger = self.logger
            guard let version = try await Self.rows(
                "SELECT token_version FROM users WHERE id = \(userID) FOR UPDATE", on: connection, logger: logger
            ).first.map({ try $0["token_version"].decode(Int64.self) }) else { return }
            // Locked in a fixed order, so two logouts of one user never deadlock.
            let live = try await Self.rows(
                "SELECT id, device_id FROM sessions WHERE user_id = \(userID) AND revoked_at IS NULL ORDER BY id FOR UPDATE",
                on: connection, logger: logger
            ).map { SessionHandle(id: try $0["id"].decode(String.self), deviceID: try $0["device_id"].decode(String?.self)) }
            let plan = SessionRevocationPlan.many(
                userID: userID, live: live, except: except, bumpTokenVersion: bumpTokenVersion, tokenVersion: version,
                devices: devices, userDevices: devices == .none ? [] : try await Self.unrevokedDevices(of: userID, on: connection, logger: logger),
                eventUntil: eventUntil)
            try await Self.carryOut(plan, userID: userID, reason: "logout", now: now, on: connection, logger: logger)
        }
    }

    public func setSessionClaims(sessionID: String, claims: [String: JSONValue]) async throws -> Bool {
        let text = AppClaimRules.storedText(claims)
        return try await transaction { connection in
            try await !Self.rows(
                "UPDATE sessions SET hook_claims = \(text) WHERE id = \(sessionID) AND revoked_at IS NULL RETURNING id",
                on: connection, logger: self.logger
            ).isEmpty
        }
    }

    public func touchSession(id: String, now: Date) async throws -> Bool {
        try await transaction { connection in
            try await !Self.rows(
                """
                UPDATE sessions SET last_refreshed_at = GREATEST(last_refreshed_at, \(now.ms))
                WHERE id = \(id) AND revoked_at IS NULL RETURNING id
                """, on: connection, logger: self.logger).isEmpty
        }
    }

    public func revokeAccessToken(jti: String, until: Date, now: Date) async throws {
        try await transaction { connection in
            // The partial unique index on token events makes a second revocation of a jti record nothing.
            try await Self.insert([NewRevocationEvent(kind: .token(jti: jti), until: until)], now: now, on: connection, logger: self.logger)
        }
    }

    private static func unrevokedDevices(of userID: String, on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await rows(
            "SELECT id FROM devices WHERE user_id = \(userID) AND revoked_at IS NULL ORDER BY id", on: connection, logger: logger
        ).map { try $0["id"].decode(String.self) }
    }

    /// Writes a revocation plan: sessions, devices, the token version, then (last) the feed events.
    static func carryOut(
        _ plan: SessionRevocationPlan, userID: String, reason: String, now: Date, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await revoke(sessionIDs: plan.sessionIDs, reason: reason, now: now, on: connection, logger: logger)
        if !plan.deviceIDs.isEmpty {
            try await connection.run(
                """
                UPDATE devices SET revoked_at = \(now.ms)
                WHERE id = ANY(\(plan.deviceIDs)) AND user_id = \(userID) AND revoked_at IS NULL
                """, logger: logger)
        }
        if let version = plan.newTokenVersion {
            try await connection.run("UPDATE users SET token_version = \(version) WHERE id = \(userID)", logger: logger)
        }
        try await insert(plan.events, now: now, on: connection, logger: logger)
    }

    static func revoke(sessionIDs: [String], reason: String, now: Date, on connection: PostgresConnection, logger: Logger) async throws {
        guard !sessionIDs.isEmpty else { return }
        try await connection.run(
            """
            UPDATE sessions SET revoked_at = \(now.ms), revoke_reason = \(reason)
            WHERE id = ANY(\(sessionIDs)) AND revoked_at IS NULL
            """, logger: logger)
    }
}
