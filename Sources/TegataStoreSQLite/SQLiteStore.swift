import Foundation
import Logging
import ServiceLifecycle
import TegataCore
import TegataWire

/// How hard SQLite pushes each commit to disk.
public enum SQLiteSynchronous: String, Sendable {
    /// Every commit is on disk (fsync) before the call returns: survives power loss.
    case full
    /// WAL mode's default: a commit survives a crash of the process, but the last commits may be lost
    /// if the machine loses power.
    case normal

    var pragma: String { rawValue.uppercased() }
}

/// The embedded SQLite store (WAL mode): one writer thread that commits queued writes together,
/// and a few reader threads (see `DatabaseThreads.swift`). A `Service`: it closes its connections
/// when the server shuts down.
public final class SQLiteStore: TegataStore, Service {
    let writer: DatabaseWriter
    private let readers: DatabaseReaders
    private let logger: Logger
    /// The database file.
    public let path: String

    private init(path: String, writer: DatabaseWriter, readers: DatabaseReaders, logger: Logger) {
        self.path = path
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database at `path`, and migrates it to the newest schema when
    /// `migrate` is true (else throws if it is not already at the newest schema).
    public static func open(
        path: String, readerCount: Int = 2, migrate: Bool = true, synchronous: SQLiteSynchronous = .full, logger: Logger
    ) async throws -> SQLiteStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let writer = try await DatabaseWriter.start(path: path) { db in
            // WAL: readers never block the writer and the writer never blocks readers.
            try db.execute("PRAGMA journal_mode = WAL")
            try configure(db, synchronous: synchronous)
        }
        do {
            let pending = try await Self.pendingMigrations(writer: writer)
            if !pending.isEmpty {
                guard migrate else {
                    throw StorageError(description: "the database at \(path) needs migrating: run `tegata migrate`")
                }
                try await Self.apply(pending, writer: writer, logger: logger)
            }
            let readers = try await DatabaseReaders.start(path: path, count: readerCount) { db in
                try configure(db, synchronous: synchronous)
                try db.execute("PRAGMA query_only = 1")
            }
            return SQLiteStore(path: path, writer: writer, readers: readers, logger: logger)
        } catch {
            await writer.close()
            throw error
        }
    }

    /// Settings every connection needs.
    private static func configure(_ db: Database, synchronous: SQLiteSynchronous) throws {
        try db.execute("PRAGMA busy_timeout = 5000")
        try db.execute("PRAGMA foreign_keys = ON")
        try db.execute("PRAGMA synchronous = \(synchronous.pragma)")
    }

    // MARK: Migrations

    private static func pendingMigrations(writer: DatabaseWriter) async throws -> [Migration] {
        try await writer.write { db in
            try db.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT
                """)
            let current = try db.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").first?.int("version") ?? 0
            let newest = Migration.all.last?.version ?? 0
            guard current <= newest else {
                throw StorageError(description: "the database schema (version \(current)) is newer than this tegata knows (\(newest))")
            }
            return Migration.all.filter { $0.version > current }
        }
    }

    private static func apply(_ migrations: [Migration], writer: DatabaseWriter, logger: Logger) async throws {
        for migration in migrations {
            try await writer.write { db in
                for statement in migration.statements {
                    try db.execute(statement)
                }
                try db.query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [.int(migration.version), .text(migration.name), .date(Date())])
            }
            logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
    }

    /// The schema version this build migrates to.
    public static var newestSchemaVersion: Int { Migration.all.last?.version ?? 0 }

    /// The schema version the database is at.
    public func schemaVersion() async throws -> Int {
        try await readers.read { db in
            Int(try db.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").first?.int("version") ?? 0)
        }
    }

    // MARK: Service

    /// Waits for shutdown, then closes the connections.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Finishes queued work and closes every connection. Safe to call more than once, and from a
    /// cancelled task (a cancelled service group still has to release the database).
    public func close() async {
        await readers.close()
        await writer.close()
    }

    // MARK: TegataStore

    public func ping() async throws {
        try await readers.read { db in _ = try db.query("SELECT 1") }
    }

    public func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome {
        try await writer.write { db in
            let credentials = command.credentials
            let existing = try db.query(
                "SELECT user_id, secret_hash, revoked_at FROM devices WHERE id = ?", [.text(credentials.deviceID)])
            let record: UserRecord
            let registered: Bool
            if let device = existing.first {
                guard command.secretMatches(try device.blob("secret_hash")) else { return .wrongSecret }
                // Only someone holding the secret learns that the registration was revoked.
                guard try device.optionalDate("revoked_at") == nil else { return .deviceRevoked }
                guard let found = try Self.userRecord(userID: try device.string("user_id"), on: db) else {
                    throw StorageError(description: "a device refers to a missing user")
                }
                try db.query(
                    "UPDATE devices SET last_sign_in_at = ?, platform = ? WHERE id = ?",
                    [.date(command.now), .text(credentials.platform), .text(credentials.deviceID)])
                record = found
                registered = false
            } else {
                let user = try Self.insertUser(id: command.newUserID, anon: true, now: command.now, on: db)
                try db.query(
                    """
                    INSERT INTO devices (id, user_id, secret_hash, platform, created_at, last_sign_in_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    [.text(credentials.deviceID), .text(user.id), .blob(command.secretHash),
                     .text(credentials.platform), .date(command.now), .date(command.now)])
                record = UserRecord(user: user, identities: [], entitlements: [])
                registered = true
            }
            let session = Session(
                id: command.newSessionID, userID: record.user.id, deviceID: credentials.deviceID,
                platform: credentials.platform, amr: ["device"], clientID: command.clientID,
                createdAt: command.now, lastRefreshedAt: command.now, generation: 0,
                absoluteExpiresAt: command.absoluteExpiresAt, revokedAt: nil)
            try Self.insert(session, on: db)
            return registered ? .registered(record, session) : .signedIn(record, session)
        }
    }

    public func identitySignIn(_ command: IdentitySignInCommand) async throws -> IdentitySignInOutcome {
        try await writer.write { db in
            let identity = command.identity
            let existing = try db.query(
                "SELECT user_id FROM identities WHERE provider = ? AND subject = ?",
                [.text(identity.provider), .text(identity.subject)])
            let record: UserRecord
            let created: Bool
            if let row = existing.first {
                guard let found = try Self.userRecord(userID: try row.string("user_id"), on: db) else {
                    throw StorageError(description: "an identity refers to a missing user")
                }
                if let email = identity.email {
                    try db.query(
                        "UPDATE identities SET email = ? WHERE provider = ? AND subject = ?",
                        [.text(email), .text(identity.provider), .text(identity.subject)])
                }
                record = found
                created = false
            } else {
                let user = try Self.insertUser(id: command.newUserID, anon: false, now: command.now, on: db)
                try Self.insert(identity, userID: user.id, now: command.now, on: db)
                record = UserRecord(
                    user: user, identities: [IdentitySummary(provider: identity.provider, subject: identity.subject)],
                    entitlements: [])
                created = true
            }
            let session = Session(
                id: command.newSessionID, userID: record.user.id, deviceID: nil, platform: command.platform,
                amr: command.amr, clientID: command.clientID, createdAt: command.now, lastRefreshedAt: command.now,
                generation: 0, absoluteExpiresAt: command.absoluteExpiresAt, revokedAt: nil)
            try Self.insert(session, on: db)
            return IdentitySignInOutcome(record: record, session: session, created: created)
        }
    }

    public func linkIdentity(_ identity: ExternalIdentity, toUser userID: String, now: Date) async throws -> LinkIdentityOutcome {
        try await writer.write { db in
            let owner = try db.query(
                "SELECT user_id FROM identities WHERE provider = ? AND subject = ?",
                [.text(identity.provider), .text(identity.subject)]
            ).first.map { try $0.string("user_id") }
            if let owner, owner != userID { return .ownedByAnotherUser }
            if owner == nil {
                let sameProvider = try db.query(
                    "SELECT 1 FROM identities WHERE user_id = ? AND provider = ?", [.text(userID), .text(identity.provider)])
                guard sameProvider.isEmpty else { return .providerAlreadyLinked }
                let updated = try db.query("UPDATE users SET anon = 0 WHERE id = ? RETURNING id", [.text(userID)])
                guard !updated.isEmpty else { return .noSuchUser }
                try Self.insert(identity, userID: userID, now: now, on: db)
            }
            guard let record = try Self.userRecord(userID: userID, on: db) else { return .noSuchUser }
            return owner == nil ? .linked(record) : .alreadyLinked(record)
        }
    }

    public func unlinkIdentity(provider: String, fromUser userID: String) async throws -> UnlinkIdentityOutcome {
        try await writer.write { db in
            let others = try db.query(
                """
                SELECT (SELECT COUNT(*) FROM identities WHERE user_id = ?1 AND provider = ?2) AS linked,
                       (SELECT COUNT(*) FROM identities WHERE user_id = ?1 AND provider <> ?2) AS other_identities,
                       (SELECT COUNT(*) FROM devices WHERE user_id = ?1) AS devices
                """,
                [.text(userID), .text(provider)])
            guard let counts = others.first, try counts.int("linked") > 0 else { return .notLinked }
            let otherIdentities = try counts.int("other_identities")
            let devices = try counts.int("devices")
            guard otherIdentities > 0 || devices > 0 else { return .lastWayToSignIn }
            try db.query("DELETE FROM identities WHERE user_id = ? AND provider = ?", [.text(userID), .text(provider)])
            if otherIdentities == 0 {
                try db.query("UPDATE users SET anon = 1 WHERE id = ?", [.text(userID)])
            }
            guard let record = try Self.userRecord(userID: userID, on: db) else { return .notLinked }
            return .unlinked(record)
        }
    }

    public func refresh(_ command: RefreshCommand) async throws -> RefreshOutcome {
        try await writer.write { db in
            let row = try db.query("SELECT * FROM sessions WHERE id = ?", [.text(command.sessionID)]).first
            guard var session = try row.map(Self.session(from:)) else {
                if case .reject(let reason) = command.decide(nil) { return .rejected(reason) }
                return .rejected(.unknownSession)
            }
            switch command.decide(session) {
            case .rotate(let generation):
                try db.query(
                    "UPDATE sessions SET generation = ?, last_refreshed_at = ?, rotated_at = ? WHERE id = ?",
                    [.integer(generation), .date(command.now), .date(command.now), .text(session.id)])
                session.generation = generation
                session.lastRefreshedAt = command.now
                session.rotatedAt = command.now
            case .reissueCurrent:
                break
            case .revokeSession:
                try Self.revoke(sessionIDs: [session.id], reason: "refresh token reuse", now: command.now,
                                eventUntil: command.eventUntil, on: db)
                return .revoked
            case .reject(let reason):
                return .rejected(reason)
            }
            guard let record = try Self.userRecord(userID: session.userID, on: db) else {
                return .rejected(.unknownSession)
            }
            return .issued(record, session)
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

    public func revokeSession(
        id: String, ownedBy userID: String?, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws -> Bool {
        try await writer.write { db in
            let rows = try db.query("SELECT user_id, device_id FROM sessions WHERE id = ? AND revoked_at IS NULL", [.text(id)])
            guard let row = rows.first else { return false }
            let owner = try row.string("user_id")
            guard userID == nil || owner == userID else { return false }
            try Self.revoke(sessionIDs: [id], reason: "revoked", now: now, eventUntil: eventUntil, on: db)
            if let device = try row.optionalString("device_id") {
                try Self.revokeDevices(of: owner, matching: devices, endedSessionDevices: [device], now: now, on: db)
            }
            return true
        }
    }

    public func revokeSessions(
        userID: String, except: String?, bumpTokenVersion: Bool, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws {
        try await writer.write { db in
            let endedDevices = try db.query(
                "SELECT DISTINCT device_id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ? AND device_id IS NOT NULL",
                [.text(userID), .optionalText(except)]
            ).map { try $0.string("device_id") }
            try Self.revokeDevices(of: userID, matching: devices, endedSessionDevices: endedDevices, now: now, on: db)
            if bumpTokenVersion {
                let rows = try db.query(
                    "UPDATE users SET token_version = token_version + 1 WHERE id = ? RETURNING token_version", [.text(userID)])
                guard let version = try rows.first?.int("token_version") else { return }
                try db.query(
                    "UPDATE sessions SET revoked_at = ?, revoke_reason = 'logout' WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?",
                    [.date(now), .text(userID), .optionalText(except)])
                try Self.insertEvent(type: "user", subject: userID, tokenVersion: version, until: eventUntil, now: now, on: db)
            } else {
                let ids = try db.query(
                    "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?",
                    [.text(userID), .optionalText(except)]
                ).map { try $0.string("id") }
                try Self.revoke(sessionIDs: ids, reason: "logout", now: now, eventUntil: eventUntil, on: db)
            }
        }
    }

    public func touchSession(id: String, now: Date) async throws -> Bool {
        try await writer.write { db in
            try !db.query(
                "UPDATE sessions SET last_refreshed_at = MAX(last_refreshed_at, ?) WHERE id = ? AND revoked_at IS NULL RETURNING id",
                [.date(now), .text(id)]).isEmpty
        }
    }

    public func rememberUsedIDToken(key: String, until: Date, now: Date) async throws -> Bool {
        try await writer.write { db in
            // A record that expired but was not pruned yet is taken over: its token cannot verify any more.
            try !db.query(
                """
                INSERT INTO used_id_tokens (key, until) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE used_id_tokens.until <= ?
                RETURNING key
                """,
                [.text(key), .date(until), .date(now)]).isEmpty
        }
    }

    public func revokeAccessToken(jti: String, until: Date, now: Date) async throws {
        try await writer.write { db in
            let existing = try db.query("SELECT 1 FROM revocation_events WHERE type = 'token' AND subject = ?", [.text(jti)])
            guard existing.isEmpty else { return }
            try Self.insertEvent(type: "token", subject: jti, tokenVersion: nil, until: until, now: now, on: db)
        }
    }

    public func deleteUser(id: String, now: Date, eventUntil: Date) async throws -> Bool {
        try await writer.write { db in
            let rows = try db.query("DELETE FROM users WHERE id = ? RETURNING token_version", [.text(id)])
            guard let version = try rows.first?.int("token_version") else { return false }
            // Devices, identities, sessions and entitlements go with the user (ON DELETE CASCADE); its
            // payment links go too, so the provider's customer no longer points at anyone.
            try db.query("DELETE FROM billing_customers WHERE user_id = ?", [.text(id)])
            try Self.insertEvent(type: "user", subject: id, tokenVersion: version + 1, until: eventUntil, now: now, on: db)
            return true
        }
    }

    public func revocationEvents(after cursor: Int64?, now: Date, limit: Int) async throws -> (events: [RevocationEvent], cursor: Int64) {
        try await readers.read { db in
            try db.snapshot {
                // The newest sequence bounds the page: an event committed later has a larger sequence
                // and is returned next time, never skipped.
                let newest = try db.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM revocation_events").first?.int("seq") ?? 0
                let rows = try db.query(
                    "SELECT * FROM revocation_events WHERE seq > ? AND seq <= ? AND until > ? ORDER BY seq LIMIT ?",
                    [.integer(cursor ?? 0), .integer(newest), .date(now), .int(limit)])
                let events = try rows.map { row -> RevocationEvent in
                    let subject = try row.string("subject")
                    let kind: RevocationEvent.Kind
                    switch try row.string("type") {
                    case "session": kind = .session(sid: subject)
                    case "user": kind = .user(sub: subject, tokenVersion: try row.int("token_version"))
                    case "token": kind = .token(jti: subject)
                    case let other: throw StorageError(description: "unknown revocation event type \(other)")
                    }
                    return RevocationEvent(sequence: try row.int("seq"), kind: kind, until: try row.date("until"))
                }
                // A full page continues after its last event; otherwise everything up to `newest` has
                // been seen (events skipped there had expired). A cursor beyond `newest` (from another
                // database) moves back to it, so nothing written later is missed.
                let next = events.count == limit ? events[events.count - 1].sequence : newest
                return (events, next)
            }
        }
    }

    public func prune(now: Date, idleLifetime: TimeInterval, webhookEventsBefore: Date, limit: Int) async throws -> PruneResult {
        try await writer.write { db in
            let sessions = try db.query(
                """
                DELETE FROM sessions WHERE id IN (
                    SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR absolute_expires_at <= ? OR last_refreshed_at <= ?
                    LIMIT ?)
                RETURNING id
                """,
                [.date(now), .date(now.addingTimeInterval(-idleLifetime)), .int(limit)]).count
            let events = try db.query(
                "DELETE FROM revocation_events WHERE seq IN (SELECT seq FROM revocation_events WHERE until <= ? LIMIT ?) RETURNING seq",
                [.date(now), .int(limit)]).count
            let webhookEvents = try db.query(
                """
                DELETE FROM billing_events WHERE rowid IN (SELECT rowid FROM billing_events WHERE received_at < ? LIMIT ?)
                RETURNING 1 AS deleted
                """,
                [.date(webhookEventsBefore), .int(limit)]).count
            let usedIDTokens = try db.query(
                "DELETE FROM used_id_tokens WHERE key IN (SELECT key FROM used_id_tokens WHERE until <= ? LIMIT ?) RETURNING key",
                [.date(now), .int(limit)]).count
            return PruneResult(sessions: sessions, events: events, webhookEvents: webhookEvents, usedIDTokens: usedIDTokens)
        }
    }

    public func userRecord(userID: String) async throws -> UserRecord? {
        try await readers.read { db in try db.snapshot { try Self.userRecord(userID: userID, on: db) } }
    }

    public func deviceOwner(deviceID: String) async throws -> String? {
        try await readers.read { db in
            try db.query("SELECT user_id FROM devices WHERE id = ? AND revoked_at IS NULL", [.text(deviceID)])
                .first.map { try $0.string("user_id") }
        }
    }

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await readers.read { db in
            try db.query("SELECT * FROM signing_keys ORDER BY rowid DESC").map { row in
                StoredSigningKey(
                    keyID: try row.string("kid"), algorithm: try row.string("alg"),
                    sealedPrivateKey: try row.blob("sealed_private_key"), createdAt: try row.date("created_at"),
                    activatesAt: try row.date("activates_at"))
            }
        }
    }

    public func insertSigningKey(_ key: StoredSigningKey, removing: [String]) async throws {
        try await writer.write { db -> Void in
            for kid in removing {
                try db.query("DELETE FROM signing_keys WHERE kid = ?", [.text(kid)])
            }
            try db.query(
                "INSERT INTO signing_keys (kid, alg, sealed_private_key, created_at, activates_at) VALUES (?, ?, ?, ?, ?)",
                [.text(key.keyID), .text(key.algorithm), .blob(key.sealedPrivateKey), .date(key.createdAt),
                 .date(key.activatesAt)])
        }
    }

    // MARK: Row mapping

    private static func userRecord(userID: String, on db: Database) throws -> UserRecord? {
        guard let row = try db.query("SELECT * FROM users WHERE id = ?", [.text(userID)]).first else { return nil }
        let user = User(
            id: try row.string("id"), anon: try row.bool("anon"), createdAt: try row.date("created_at"),
            tokenVersion: try row.int("token_version"))
        let identities = try db.query(
            "SELECT provider, subject FROM identities WHERE user_id = ? ORDER BY provider, subject", [.text(userID)]
        ).map { IdentitySummary(provider: try $0.string("provider"), subject: try $0.string("subject")) }
        let entitlements = try db.query(
            "SELECT name, expires_at FROM entitlements WHERE user_id = ? ORDER BY name", [.text(userID)]
        ).map { Entitlement(name: try $0.string("name"), expiresAt: try $0.optionalDate("expires_at")) }
        return UserRecord(user: user, identities: identities, entitlements: entitlements)
    }

    /// Creates a user at token version 0.
    private static func insertUser(id: String, anon: Bool, now: Date, on db: Database) throws -> User {
        try db.query(
            "INSERT INTO users (id, anon, created_at, token_version) VALUES (?, ?, ?, 0)",
            [.text(id), .bool(anon), .date(now)])
        return User(id: id, anon: anon, createdAt: now, tokenVersion: 0)
    }

    private static func insert(_ identity: ExternalIdentity, userID: String, now: Date, on db: Database) throws {
        try db.query(
            "INSERT INTO identities (provider, subject, user_id, created_at, email) VALUES (?, ?, ?, ?, ?)",
            [.text(identity.provider), .text(identity.subject), .text(userID), .date(now), .optionalText(identity.email)])
    }

    /// Marks device registrations revoked, as `revocation` says: a revoked device's secret signs in
    /// nowhere again.
    private static func revokeDevices(
        of userID: String, matching revocation: DeviceRevocation, endedSessionDevices: [String], now: Date, on db: Database
    ) throws {
        switch revocation {
        case .none:
            return
        case .ofEndedSessions(let keeping):
            for device in Set(endedSessionDevices) where device != keeping {
                try db.query(
                    "UPDATE devices SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                    [.date(now), .text(device), .text(userID)])
            }
        case .allOfUser(let keeping):
            try db.query(
                "UPDATE devices SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?",
                [.date(now), .text(userID), .optionalText(keeping)])
        }
    }

    private static func revoke(sessionIDs: [String], reason: String, now: Date, eventUntil: Date, on db: Database) throws {
        for id in sessionIDs {
            try db.query(
                "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
                [.date(now), .text(reason), .text(id)])
            try insertEvent(type: "session", subject: id, tokenVersion: nil, until: eventUntil, now: now, on: db)
        }
    }

    private static func insertEvent(
        type: String, subject: String, tokenVersion: Int64?, until: Date, now: Date, on db: Database
    ) throws {
        try db.query(
            "INSERT INTO revocation_events (type, subject, token_version, until, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(type), .text(subject), .optionalInteger(tokenVersion), .date(until), .date(now)])
    }

    private static func insert(_ session: Session, on db: Database) throws {
        try db.query(
            """
            INSERT INTO sessions (id, user_id, device_id, platform, amr, client_id, created_at, last_refreshed_at,
                                  rotated_at, generation, absolute_expires_at, revoked_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(session.id), .text(session.userID), .optionalText(session.deviceID), .text(session.platform),
             .text(try encodeAMR(session.amr)), .text(session.clientID), .date(session.createdAt),
             .date(session.lastRefreshedAt), .date(session.rotatedAt), .integer(session.generation), .date(session.absoluteExpiresAt),
             .optionalDate(session.revokedAt)])
    }

    private static func session(from row: Row) throws -> Session {
        Session(
            id: try row.string("id"), userID: try row.string("user_id"), deviceID: try row.optionalString("device_id"),
            platform: try row.string("platform"), amr: try decodeAMR(try row.string("amr")),
            clientID: try row.string("client_id"), createdAt: try row.date("created_at"),
            lastRefreshedAt: try row.date("last_refreshed_at"), rotatedAt: try row.optionalDate("rotated_at"),
            generation: try row.int("generation"),
            absoluteExpiresAt: try row.date("absolute_expires_at"), revokedAt: try row.optionalDate("revoked_at"))
    }

    /// `amr` is stored as a JSON array of strings. Its values are short registered names (RFC 8176)
    /// that need no escaping, so the common case is written and read without a JSON coder (this is
    /// on every sign-in and refresh); anything else goes through the coder.
    static func encodeAMR(_ amr: [String]) throws -> String {
        if amr.allSatisfy(isPlainAMRValue) {
            return "[" + amr.map { "\"" + $0 + "\"" }.joined(separator: ",") + "]"
        }
        return String(decoding: try JSONEncoder().encode(amr), as: UTF8.self)
    }

    static func decodeAMR(_ text: String) throws -> [String] {
        if text.hasPrefix("[\""), text.hasSuffix("\"]") {
            let values = text.dropFirst(2).dropLast(2).split(separator: "\",\"", omittingEmptySubsequences: false).map(String.init)
            if values.allSatisfy(isPlainAMRValue) { return values }
        } else if text == "[]" {
            return []
        }
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    private static func isPlainAMRValue(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                true
            default:
                false
            }
        }
    }
}
