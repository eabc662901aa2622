import Foundation
import TegataCore
import TegataWire

/// Sessions: refresh, use and revocation.
extension SQLiteStore {
    public func refresh(_ command: RefreshCommand) async throws -> RefreshOutcome {
        try await writer.write { db in
            let session = try db.query("SELECT * FROM sessions WHERE id = ?", [.text(command.sessionID)]).first.map(Self.session(from:))
            let issued: Session
            let effect = command.effect(for: session)
            if effect.issuesTokens, let record = command.singleUse,
               try !Self.recordSingleUse(key: record.key, until: record.until, now: command.now, on: db) {
                return .rejected(.proofReplayed)
            }
            switch effect {
            case .rotate(let rotated):
                try db.query(
                    "UPDATE sessions SET generation = ?, last_refreshed_at = ?, rotated_at = ? WHERE id = ?",
                    [.integer(rotated.generation), .date(rotated.lastRefreshedAt), .date(rotated.rotatedAt), .text(rotated.id)])
                issued = rotated
            case .reissue(let current):
                issued = current
            case .revoke(let sessionID, let event):
                try Self.revoke(sessionIDs: [sessionID], reason: "refresh token reuse", now: command.now, on: db)
                try Self.insert(event, now: command.now, on: db)
                return .revoked
            case .reject(let reason):
                return .rejected(reason)
            }
            guard let record = try Self.userRecord(userID: issued.userID, on: db) else {
                return .rejected(.unknownSession)
            }
            return .issued(record, issued)
        }
    }

    public func authState(sessionID: String, jti: String?, withUser: Bool) async throws -> AuthState? {
        try await readers.read { db in
            try db.snapshot {
                let row = try db.query(
                    """
                    SELECT s.*, u.token_version AS user_token_version,
                           EXISTS (SELECT 1 FROM revocation_events e WHERE e.type = 'token' AND e.subject = ?) AS token_revoked
                    FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?
                    """,
                    [.optionalText(jti), .text(sessionID)]
                ).first
                guard let row else { return nil }
                let session = try Self.session(from: row)
                var user: UserRecord?
                if withUser {
                    guard let record = try Self.userRecord(userID: session.userID, on: db) else { return nil }
                    user = record
                }
                return AuthState(
                    session: session, userTokenVersion: try row.int("user_token_version"),
                    tokenRevoked: try row.bool("token_revoked"), user: user)
            }
        }
    }

    public func liveSessions(userID: String, now: Date, idleLifetime: TimeInterval) async throws -> [Session] {
        try await readers.read { db in
            try db.query(
                """
                SELECT * FROM sessions
                WHERE user_id = ? AND revoked_at IS NULL AND absolute_expires_at > ? AND last_refreshed_at > ?
                ORDER BY created_at, rowid
                """,
                [.text(userID), .date(now), .date(now.addingTimeInterval(-idleLifetime))]
            ).map(Self.session(from:))
        }
    }

    public func sessions(ofUser userID: String) async throws -> [Session] {
        try await readers.read { db in
            try db.query("SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at, rowid", [.text(userID)]).map(Self.session(from:))
        }
    }

    public func session(id: String) async throws -> Session? {
        try await readers.read { db in
            try db.query("SELECT * FROM sessions WHERE id = ?", [.text(id)]).first.map(Self.session(from:))
        }
    }

    public func revokeSession(
        id: String, ownedBy userID: String?, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws -> Bool {
        try await writer.write { db in
            let rows = try db.query("SELECT user_id, device_id FROM sessions WHERE id = ? AND revoked_at IS NULL", [.text(id)])
            guard let row = rows.first else { return false }
            let owner = try row.string("user_id")
            guard userID == nil || owner == userID else { return false }
            let session = SessionHandle(id: id, deviceID: try row.optionalString("device_id"))
            let userDevices = devices == .none || session.deviceID == nil ? [] : try Self.unrevokedDevices(of: owner, on: db)
            try Self.carryOut(
                SessionRevocationPlan.one(session, devices: devices, userDevices: userDevices, eventUntil: eventUntil),
                userID: owner, reason: "revoked", now: now, on: db)
            return true
        }
    }

    public func revokeSessions(
        userID: String, except: String?, bumpTokenVersion: Bool, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws {
        try await writer.write { db in
            guard let version = try db.query("SELECT token_version FROM users WHERE id = ?", [.text(userID)]).first?.int("token_version")
            else { return }
            let live = try db.query("SELECT id, device_id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", [.text(userID)]).map {
                SessionHandle(id: try $0.string("id"), deviceID: try $0.optionalString("device_id"))
            }
            let plan = SessionRevocationPlan.many(
                userID: userID, live: live, except: except, bumpTokenVersion: bumpTokenVersion, tokenVersion: version,
                devices: devices, userDevices: devices == .none ? [] : try Self.unrevokedDevices(of: userID, on: db),
                eventUntil: eventUntil)
            try Self.carryOut(plan, userID: userID, reason: "logout", now: now, on: db)
        }
    }

    public func setSessionClaims(sessionID: String, claims: [String: JSONValue]) async throws -> Bool {
        let text = AppClaimRules.storedText(claims)
        return try await writer.write { db in
            try !db.query(
                "UPDATE sessions SET hook_claims = ? WHERE id = ? AND revoked_at IS NULL RETURNING id", [.optionalText(text), .text(sessionID)]
            ).isEmpty
        }
    }

    public func touchSession(id: String, now: Date) async throws -> Bool {
        try await writer.write { db in
            try !db.query(
                "UPDATE sessions SET last_refreshed_at = MAX(last_refreshed_at, ?) WHERE id = ? AND revoked_at IS NULL RETURNING id",
                [.date(now), .text(id)]).isEmpty
        }
    }

    public func revokeAccessToken(jti: String, until: Date, now: Date) async throws {
        try await writer.write { db in
            let existing = try db.query("SELECT 1 FROM revocation_events WHERE type = 'token' AND subject = ?", [.text(jti)])
            guard existing.isEmpty else { return }
            try Self.insert(NewRevocationEvent(kind: .token(jti: jti), until: until), now: now, on: db)
        }
    }

    private static func unrevokedDevices(of userID: String, on db: Database) throws -> [String] {
        try db.query("SELECT id FROM devices WHERE user_id = ? AND revoked_at IS NULL", [.text(userID)]).map { try $0.string("id") }
    }

    /// Writes a revocation plan: sessions, devices, the token version, the feed events.
    static func carryOut(_ plan: SessionRevocationPlan, userID: String, reason: String, now: Date, on db: Database) throws {
        try revoke(sessionIDs: plan.sessionIDs, reason: reason, now: now, on: db)
        for device in plan.deviceIDs {
            try db.query(
                "UPDATE devices SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                [.date(now), .text(device), .text(userID)])
        }
        if let version = plan.newTokenVersion {
            try db.query("UPDATE users SET token_version = ? WHERE id = ?", [.integer(version), .text(userID)])
        }
        for event in plan.events {
            try insert(event, now: now, on: db)
        }
    }

    static func revoke(sessionIDs: [String], reason: String, now: Date, on db: Database) throws {
        for id in sessionIDs {
            try db.query(
                "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
                [.date(now), .text(reason), .text(id)])
        }
    }
}
