import Foundation
import Logging
import NIOCore
import SQLiteNIO
import ServiceLifecycle
import Synchronization
import TegataCore
import TegataWire

/// The embedded SQLite store (WAL mode): one serialised writer connection and a few reader
/// connections. A `Service`: it closes its connections when the server shuts down.
public final class SQLiteStore: TegataStore, Service {
    private let writer: SQLiteWriter
    private let readers: [SQLiteConnection]
    private let nextReader = Atomic<Int>(0)
    private let logger: Logger
    /// The database file.
    public let path: String

    private init(path: String, writer: SQLiteWriter, readers: [SQLiteConnection], logger: Logger) {
        self.path = path
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database at `path`, and migrates it to the newest schema when
    /// `migrate` is true (else throws if it is not already at the newest schema).
    public static func open(path: String, readerCount: Int = 2, migrate: Bool = true, logger: Logger) async throws -> SQLiteStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let writerConnection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        var readers: [SQLiteConnection] = []
        do {
            // WAL: readers never block the writer and the writer never blocks readers.
            _ = try await writerConnection.query("PRAGMA journal_mode = WAL")
            try await configure(writerConnection)
            let writer = SQLiteWriter(connection: writerConnection)
            let pending = try await Self.pendingMigrations(writer: writer)
            if !pending.isEmpty {
                guard migrate else {
                    throw StorageError(description: "the database at \(path) needs migrating: run `tegata migrate`")
                }
                try await Self.apply(pending, writer: writer, logger: logger)
            }
            for _ in 0..<max(1, readerCount) {
                let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
                readers.append(reader)
                try await configure(reader)
                _ = try await reader.query("PRAGMA query_only = 1")
            }
            return SQLiteStore(path: path, writer: writer, readers: readers, logger: logger)
        } catch {
            try? await writerConnection.close()
            for reader in readers { try? await reader.close() }
            throw error
        }
    }

    /// Settings every connection needs. `busy_timeout` also replaces sqlite-nio's spinning busy handler.
    private static func configure(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query("PRAGMA busy_timeout = 5000")
        _ = try await connection.query("PRAGMA foreign_keys = ON")
        // FULL: a commit is on disk before a token response describing it is sent.
        _ = try await connection.query("PRAGMA synchronous = FULL")
    }

    // MARK: Migrations

    private static func pendingMigrations(writer: SQLiteWriter) async throws -> [Migration] {
        try await writer.transaction { db in
            _ = try await db.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT
                """)
            let rows = try await db.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")
            let current = try rows.first?.int("version") ?? 0
            let newest = Migration.all.last?.version ?? 0
            guard current <= newest else {
                throw StorageError(description: "the database schema (version \(current)) is newer than this tegata knows (\(newest))")
            }
            return Migration.all.filter { $0.version > current }
        }
    }

    private static func apply(_ migrations: [Migration], writer: SQLiteWriter, logger: Logger) async throws {
        for migration in migrations {
            try await writer.transaction { db in
                for statement in migration.statements {
                    _ = try await db.query(statement)
                }
                _ = try await db.query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [.integer(migration.version), .text(migration.name), .date(Date())])
            }
            logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
    }

    /// The schema version the database is at.
    public func schemaVersion() async throws -> Int {
        let rows = try await reader.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")
        return Int(try rows.first?.int("version") ?? 0)
    }

    // MARK: Service

    /// Waits for shutdown, then closes the connections.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes every connection.
    public func close() async {
        try? await writer.connection.close()
        for reader in readers { try? await reader.close() }
    }

    private var reader: SQLiteConnection {
        readers[nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count]
    }

    // MARK: TegataStore

    public func ping() async throws {
        _ = try await reader.query("SELECT 1")
    }

    public func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome {
        try await writer.transaction { db in
            let credentials = command.credentials
            let existing = try await db.query(
                "SELECT user_id, secret_hash FROM devices WHERE id = ?", [.text(credentials.deviceID)])
            let record: UserRecord
            let registered: Bool
            if let device = existing.first {
                guard command.secretMatches(try device.blob("secret_hash")) else { return .wrongSecret }
                guard let found = try await Self.userRecord(userID: try device.string("user_id"), on: db) else {
                    throw StorageError(description: "a device refers to a missing user")
                }
                _ = try await db.query(
                    "UPDATE devices SET last_sign_in_at = ?, platform = ? WHERE id = ?",
                    [.date(command.now), .text(credentials.platform), .text(credentials.deviceID)])
                record = found
                registered = false
            } else {
                let user = User(id: command.newUserID, anon: true, createdAt: command.now, tokenVersion: 0)
                _ = try await db.query(
                    "INSERT INTO users (id, anon, created_at, token_version) VALUES (?, 1, ?, 0)",
                    [.text(user.id), .date(user.createdAt)])
                _ = try await db.query(
                    """
                    INSERT INTO devices (id, user_id, secret_hash, platform, created_at, last_sign_in_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    [.text(credentials.deviceID), .text(user.id), .bytes(command.secretHash),
                     .text(credentials.platform), .date(command.now), .date(command.now)])
                record = UserRecord(user: user, identities: [], entitlements: [])
                registered = true
            }
            let session = Session(
                id: command.newSessionID, userID: record.user.id, deviceID: credentials.deviceID,
                platform: credentials.platform, amr: ["device"], clientID: command.clientID,
                createdAt: command.now, lastRefreshedAt: command.now, generation: 0,
                absoluteExpiresAt: command.absoluteExpiresAt, revokedAt: nil)
            try await Self.insert(session, on: db)
            return registered ? .registered(record, session) : .signedIn(record, session)
        }
    }

    public func sessionState(sessionID: String) async throws -> SessionState? {
        let rows = try await reader.query(
            """
            SELECT s.*, u.token_version AS user_token_version
            FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?
            """,
            [.text(sessionID)])
        guard let row = rows.first else { return nil }
        return SessionState(session: try Self.session(from: row), userTokenVersion: try row.int("user_token_version"))
    }

    public func userRecord(userID: String) async throws -> UserRecord? {
        try await Self.userRecord(userID: userID, on: reader)
    }

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await reader.query("SELECT * FROM signing_keys ORDER BY created_at DESC, kid").map { row in
            StoredSigningKey(
                keyID: try row.string("kid"), algorithm: try row.string("alg"),
                sealedPrivateKey: try row.blob("sealed_private_key"), createdAt: try row.date("created_at"))
        }
    }

    public func insertSigningKey(_ key: StoredSigningKey) async throws {
        try await writer.transaction { db in
            _ = try await db.query(
                "INSERT INTO signing_keys (kid, alg, sealed_private_key, created_at) VALUES (?, ?, ?, ?)",
                [.text(key.keyID), .text(key.algorithm), .bytes(key.sealedPrivateKey), .date(key.createdAt)])
        }
    }

    // MARK: Row mapping

    private static func userRecord(userID: String, on db: SQLiteConnection) async throws -> UserRecord? {
        guard let row = try await db.query("SELECT * FROM users WHERE id = ?", [.text(userID)]).first else { return nil }
        let user = User(
            id: try row.string("id"), anon: try row.bool("anon"), createdAt: try row.date("created_at"),
            tokenVersion: try row.int("token_version"))
        let identities = try await db.query(
            "SELECT provider, subject FROM identities WHERE user_id = ? ORDER BY provider, subject", [.text(userID)]
        ).map { IdentitySummary(provider: try $0.string("provider"), subject: try $0.string("subject")) }
        let entitlements = try await db.query(
            "SELECT name, expires_at FROM entitlements WHERE user_id = ? ORDER BY name", [.text(userID)]
        ).map { Entitlement(name: try $0.string("name"), expiresAt: $0.optionalDate("expires_at")) }
        return UserRecord(user: user, identities: identities, entitlements: entitlements)
    }

    private static func insert(_ session: Session, on db: SQLiteConnection) async throws {
        _ = try await db.query(
            """
            INSERT INTO sessions (id, user_id, device_id, platform, amr, client_id, created_at, last_refreshed_at,
                                  generation, absolute_expires_at, revoked_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(session.id), .text(session.userID), .optionalText(session.deviceID), .text(session.platform),
             .text(try encodeAMR(session.amr)), .text(session.clientID), .date(session.createdAt),
             .date(session.lastRefreshedAt), .int64(session.generation), .date(session.absoluteExpiresAt),
             .optionalDate(session.revokedAt)])
    }

    private static func session(from row: SQLiteRow) throws -> Session {
        Session(
            id: try row.string("id"), userID: try row.string("user_id"), deviceID: row.optionalString("device_id"),
            platform: try row.string("platform"), amr: try decodeAMR(try row.string("amr")),
            clientID: try row.string("client_id"), createdAt: try row.date("created_at"),
            lastRefreshedAt: try row.date("last_refreshed_at"), generation: try row.int("generation"),
            absoluteExpiresAt: try row.date("absolute_expires_at"), revokedAt: row.optionalDate("revoked_at"))
    }

    private static func encodeAMR(_ amr: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(amr), as: UTF8.self)
    }

    private static func decodeAMR(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
