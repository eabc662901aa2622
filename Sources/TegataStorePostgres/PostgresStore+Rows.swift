import Foundation
import Logging
import PostgresNIO
import TegataCore
import TegataWire

extension PostgresConnection {
    /// Runs a statement and reads its whole answer, so that an error PostgreSQL reports while the
    /// statement executes (a lock wait that timed out, a constraint) is thrown here — an answer
    /// left unread would hide it, and the transaction's next statement would fail instead.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await self.query(query, logger: logger).collect()
    }
}

/// Rows to values, and the reads and writes the store's parts share.
extension PostgresStore {
    static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// The columns of a user record, for a statement whose `FROM` names the user `u`: the user's own
    /// columns and, as arrays in a fixed order, its identities and entitlements — one statement
    /// (one round trip, one snapshot) instead of three.
    static let userRecordColumns = """
        u.id AS u_id, u.anon AS u_anon, u.created_at AS u_created_at, u.token_version AS u_token_version,
        u.disabled_at AS u_disabled_at, u.disabled_until AS u_disabled_until, u.app_claims AS u_app_claims,
        ARRAY(SELECT i.provider FROM identities i WHERE i.user_id = u.id ORDER BY i.provider, i.subject) AS u_identity_providers,
        ARRAY(SELECT i.subject FROM identities i WHERE i.user_id = u.id ORDER BY i.provider, i.subject) AS u_identity_subjects,
        ARRAY(SELECT e.name FROM entitlements e WHERE e.user_id = u.id ORDER BY e.name) AS u_entitlement_names,
        ARRAY(SELECT e.expires_at IS NULL FROM entitlements e WHERE e.user_id = u.id ORDER BY e.name) AS u_entitlement_permanent,
        ARRAY(SELECT COALESCE(e.expires_at, 0) FROM entitlements e WHERE e.user_id = u.id ORDER BY e.name) AS u_entitlement_expiries
        """

    /// The user record in a row selected with ``userRecordColumns``.
    static func userRecord(from row: PostgresRandomAccessRow) throws -> UserRecord {
        let user = try Self.user(from: row, prefix: "u_")
        let providers = try row["u_identity_providers"].decode([String].self)
        let subjects = try row["u_identity_subjects"].decode([String].self)
        let names = try row["u_entitlement_names"].decode([String].self)
        let permanent = try row["u_entitlement_permanent"].decode([Bool].self)
        let expiries = try row["u_entitlement_expiries"].decode([Int64].self)
        guard providers.count == subjects.count, names.count == permanent.count, names.count == expiries.count else {
            throw PostgresStoreError(description: "a user record's arrays differ in length")
        }
        return UserRecord(
            user: user,
            identities: zip(providers, subjects).map { IdentitySummary(provider: $0, subject: $1) },
            entitlements: names.indices.map { Entitlement(name: names[$0], expiresAt: permanent[$0] ? nil : Date(ms: expiries[$0])) },
            appClaims: try AppClaimRules.claims(storedText: try row["u_app_claims"].decode(String?.self)))
    }

    /// The user in a row whose user columns are named `prefix` + the column's name.
    static func user(from row: PostgresRandomAccessRow, prefix: String = "") throws -> User {
        User(
            id: try row[prefix + "id"].decode(String.self), anon: try row[prefix + "anon"].decode(Bool.self),
            createdAt: Date(ms: try row[prefix + "created_at"].decode(Int64.self)),
            tokenVersion: try row[prefix + "token_version"].decode(Int64.self),
            disabled: try row[prefix + "disabled_at"].decode(Int64?.self).map {
                Disablement(since: Date(ms: $0), until: try row[prefix + "disabled_until"].decode(Int64?.self).map(Date.init(ms:)))
            })
    }

    static func userRecord(userID: String, on connection: PostgresConnection, logger: Logger) async throws -> UserRecord? {
        try await connection.rows(Statements.UserRecordByID(userID: userID), logger: logger).first.map(userRecord(from:))
    }

    static func insertUser(id: String, anon: Bool, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> User {
        try await connection.run(
            "INSERT INTO users (id, anon, created_at, token_version) VALUES (\(id), \(anon), \(now.ms), 0)", logger: logger)
        return User(id: id, anon: anon, createdAt: now, tokenVersion: 0)
    }

    static func insert(_ identity: ExternalIdentity, userID: String, now: Date, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(
            """
            INSERT INTO identities (provider, subject, user_id, created_at, email)
            VALUES (\(identity.provider), \(identity.subject), \(userID), \(now.ms), \(identity.email))
            """, logger: logger)
    }

    static func insert(_ session: Session, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(
            """
            INSERT INTO sessions (id, user_id, device_id, platform, amr, client_id, created_at, last_refreshed_at,
                                  rotated_at, generation, absolute_expires_at, revoked_at, dpop_jkt)
            VALUES (\(session.id), \(session.userID), \(session.deviceID), \(session.platform), \(session.amr), \(session.clientID),
                    \(session.createdAt.ms), \(session.lastRefreshedAt.ms), \(session.rotatedAt.ms), \(session.generation),
                    \(session.absoluteExpiresAt.ms), \(session.revokedAt?.ms), \(session.dpopThumbprint))
            """, logger: logger)
    }

    static func session(from row: PostgresRandomAccessRow) throws -> Session {
        Session(
            id: try row["id"].decode(String.self), userID: try row["user_id"].decode(String.self),
            deviceID: try row["device_id"].decode(String?.self), platform: try row["platform"].decode(String.self),
            amr: try row["amr"].decode([String].self), clientID: try row["client_id"].decode(String.self),
            createdAt: Date(ms: try row["created_at"].decode(Int64.self)),
            lastRefreshedAt: Date(ms: try row["last_refreshed_at"].decode(Int64.self)),
            rotatedAt: Date(ms: try row["rotated_at"].decode(Int64.self)), generation: try row["generation"].decode(Int64.self),
            absoluteExpiresAt: Date(ms: try row["absolute_expires_at"].decode(Int64.self)),
            revokedAt: try row["revoked_at"].decode(Int64?.self).map(Date.init(ms:)),
            hookClaims: try AppClaimRules.claims(storedText: try row["hook_claims"].decode(String?.self)),
            dpopThumbprint: try row["dpop_jkt"].decode(String?.self))
    }

    /// Records feed events, numbered from `feed_clock` (whose row this locks until commit, so
    /// numbers follow commit order). Call it last in a transaction, after its row locks: the clock
    /// is then held only for the commit.
    static func insert(_ events: [NewRevocationEvent], now: Date, on connection: PostgresConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        let count = Int64(events.count)
        guard let last = try await rows(
            "UPDATE feed_clock SET seq = seq + \(count) WHERE id = 1 RETURNING seq", on: connection, logger: logger
        ).first.map({ try $0["seq"].decode(Int64.self) }) else {
            throw PostgresStoreError(description: "the feed clock row is missing")
        }
        for (offset, event) in events.enumerated() {
            let type: String, subject: String, tokenVersion: Int64?
            switch event.kind {
            case .session(let sid): (type, subject, tokenVersion) = ("session", sid, nil)
            case .user(let sub, let version): (type, subject, tokenVersion) = ("user", sub, version)
            case .token(let jti): (type, subject, tokenVersion) = ("token", jti, nil)
            }
            let seq = last - count + 1 + Int64(offset)
            try await connection.run(
                """
                INSERT INTO revocation_events (seq, type, subject, token_version, until, created_at)
                VALUES (\(seq), \(type), \(subject), \(tokenVersion), \(event.until.ms), \(now.ms))
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }
}
