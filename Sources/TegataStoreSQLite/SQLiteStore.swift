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

/// The memory SQLite may use so that a lookup does not read the file: each connection's page cache
/// and the read-only memory map of the database file. Neither changes what a commit writes or when it
/// is on disk; both only save reads (a page found in the cache or the map is not copied in from the
/// operating system's page cache).
public struct SQLiteMemory: Sendable, Equatable {
    /// Each connection's page cache, in MiB (`PRAGMA cache_size`); the store opens one writer and
    /// a few readers, so the cache memory is this times their number, at most.
    public var cacheMiB: Int
    /// How much of the database file is memory-mapped for reading, in MiB (`PRAGMA mmap_size`; 0
    /// turns it off). At most 2047: SQLite maps just under 2 GiB (its compiled limit). The map is
    /// shared by every connection and its pages are the operating system's page cache, though they
    /// show in the process's resident memory (RSS) once read.
    public var mmapMiB: Int

    public init(cacheMiB: Int, mmapMiB: Int) {
        self.cacheMiB = cacheMiB
        self.mmapMiB = mmapMiB
    }

    /// The settings `tegata serve` starts with unless configured otherwise.
    public static let standard = SQLiteMemory(cacheMiB: 64, mmapMiB: 2_047)

    var pragmas: [String] {
        ["PRAGMA cache_size = -\(cacheMiB * 1024)", "PRAGMA mmap_size = \(mmapMiB * 1024 * 1024)"]
    }
}

/// The embedded SQLite store (WAL mode): one writer thread that commits queued writes together,
/// and a few reader threads (see `DatabaseThreads.swift`). A `Service`: it closes its connections
/// when the server shuts down.
public final class SQLiteStore: TegataStore, Service {
    let writer: DatabaseWriter
    let readers: DatabaseReaders
    private let logger: Logger
    /// The database file.
    public let path: String

    private init(path: String, writer: DatabaseWriter, readers: DatabaseReaders, logger: Logger) {
        self.path = path
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database at `path`. With `migrate`, applies its pending
    /// migrations (``migrate()``); without, throws unless it is already at the newest schema.
    public static func open(
        path: String, readerCount: Int = 2, migrate: Bool = true, synchronous: SQLiteSynchronous = .full,
        memory: SQLiteMemory = .standard, logger: Logger
    ) async throws -> SQLiteStore {
        let store = try await openUnmigrated(
            path: path, readerCount: readerCount, synchronous: synchronous, memory: memory, logger: logger)
        do {
            if migrate {
                _ = try await store.migrate()
            } else if try await store.schemaVersion() != Self.newestSchemaVersion {
                throw StorageError(description: "the database at \(path) needs migrating: run `tegata migrate`")
            }
            return store
        } catch {
            await store.close()
            throw error
        }
    }

    /// Opens (creating if needed) the database at `path` as it is, without migrating it: the
    /// caller migrates through ``migrate()`` (as the store factory does).
    public static func openUnmigrated(
        path: String, readerCount: Int = 2, synchronous: SQLiteSynchronous = .full, memory: SQLiteMemory = .standard,
        observer: any StoreObserver = NoStoreObserver(), logger: Logger
    ) async throws -> SQLiteStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let writer = try await DatabaseWriter.start(path: path, observer: observer) { db in
            // WAL: readers never block the writer and the writer never blocks readers.
            try db.execute("PRAGMA journal_mode = WAL")
            try configure(db, synchronous: synchronous, memory: memory)
        }
        do {
            try await writer.write { db in
                try db.execute("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT
                    """)
            }
            let readers = try await DatabaseReaders.start(path: path, count: readerCount, observer: observer) { db in
                try configure(db, synchronous: synchronous, memory: memory)
                try db.execute("PRAGMA query_only = 1")
            }
            return SQLiteStore(path: path, writer: writer, readers: readers, logger: logger)
        } catch {
            await writer.close()
            throw error
        }
    }

    /// Settings every connection needs.
    private static func configure(_ db: Database, synchronous: SQLiteSynchronous, memory: SQLiteMemory) throws {
        try db.execute("PRAGMA busy_timeout = 5000")
        try db.execute("PRAGMA foreign_keys = ON")
        try db.execute("PRAGMA synchronous = \(synchronous.pragma)")
        for pragma in memory.pragmas {
            try db.execute(pragma)
        }
    }

    // MARK: Migrations

    /// The schema version this build migrates to.
    public static var newestSchemaVersion: Int { Migration.all.last?.version ?? 0 }

    public var newestSchemaVersion: Int { Self.newestSchemaVersion }

    /// Applies every pending migration in order, each in its own write transaction that re-reads the
    /// current version first (so a second process migrating the same file at once applies nothing
    /// twice: SQLite's write lock orders them).
    public func migrate() async throws -> [Int] {
        var applied: [Int] = []
        for migration in Migration.all {
            let ran = try await writer.write { db -> Bool in
                let current = try Self.currentVersion(on: db)
                guard current <= Self.newestSchemaVersion else {
                    throw StorageError(description: "the database schema (version \(current)) is newer than this tegata knows (\(Self.newestSchemaVersion))")
                }
                guard migration.version > current else { return false }
                for statement in migration.statements {
                    try db.execute(statement)
                }
                try db.query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [.int(migration.version), .text(migration.name), .date(Date())])
                return true
            }
            if ran {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    /// The schema version the database is at.
    public func schemaVersion() async throws -> Int {
        try await readers.read { db in try Self.currentVersion(on: db) }
    }

    private static func currentVersion(on db: Database) throws -> Int {
        Int(try db.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").first?.int("version") ?? 0)
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

    // MARK: Lifecycle

    public func ping() async throws {
        try await readers.read { db in _ = try db.query("SELECT 1") }
    }

    public func prune(now: Date, idleLifetime: TimeInterval, webhookEventsBefore: Date, limit: Int) async throws -> PruneResult {
        try await writer.write { db in
            var sessions = 0
            for (sql, values) in Self.endedSessionDeletes(now: now, idleBefore: now.addingTimeInterval(-idleLifetime)) where sessions < limit {
                sessions += try db.query(sql, values + [.int(limit - sessions)]).count
            }
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
            let buckets = try db.query(
                "DELETE FROM rate_limits WHERE bucket IN (SELECT bucket FROM rate_limits WHERE tat <= ? LIMIT ?) RETURNING bucket",
                [.real(now.timeIntervalSince1970 * 1000), .int(limit)]).count
            return PruneResult(
                sessions: sessions, events: events, webhookEvents: webhookEvents, usedIDTokens: usedIDTokens, rateLimitBuckets: buckets)
        }
    }

    /// The deletes of ended sessions, each taking at most the limit bound last: revoked, past their
    /// absolute end, idle. One statement per condition, so that each walks its own index (revoked
    /// sessions have a partial one); an `OR` of the three read the whole table, on every pruning
    /// pass, holding the writer meanwhile.
    static func endedSessionDeletes(now: Date, idleBefore: Date) -> [(String, [SQLValue])] {
        [("revoked_at IS NOT NULL", []), ("absolute_expires_at <= ?", [.date(now)]), ("last_refreshed_at <= ?", [.date(idleBefore)])].map {
            ("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE \($0.0) LIMIT ?) RETURNING id", $0.1)
        }
    }

    // MARK: Signing keys

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
}
