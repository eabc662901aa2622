import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import TegataCore

/// The PostgreSQL store: several Tegata replicas on one database. Every method is one transaction
/// on one pooled connection (a request never holds two), and every rule the store protocols state
/// is enforced by PostgreSQL itself — row locks (`SELECT … FOR UPDATE`), unique constraints — never
/// by memory in one process. A `Service`: it closes its pool when the server shuts down.
public final class PostgresStore: TegataStore, Service {
    let client: PostgresClient
    let logger: Logger
    private let pool: Task<Void, Never>
    /// Where the store lives, without the password.
    public let location: String
    /// How long a request waits for a free connection of the pool before it gives up with a 503.
    let leaseTimeout: Duration
    let poolSize: Int
    let warnings = PoolWarnings()
    let eventLoops: any EventLoopGroup
    let observer: any StoreObserver

    private init(
        client: PostgresClient, pool: Task<Void, Never>, location: String, poolSize: Int, leaseTimeout: Duration,
        eventLoops: any EventLoopGroup, observer: any StoreObserver, logger: Logger
    ) {
        self.observer = observer
        self.client = client
        self.pool = pool
        self.location = location
        self.poolSize = poolSize
        self.leaseTimeout = leaseTimeout
        self.eventLoops = eventLoops
        self.logger = logger
    }

    /// Opens a pool of at most `poolSize` connections to `url`, without migrating (the store
    /// factory migrates through ``migrate()``). Nothing connects until the first query.
    /// A request waits at most `lockTimeout` for a row lock and at most `leaseTimeout` for a free
    /// connection; either ends it with ``TegataError/serviceUnavailable(_:)``.
    public static func open(
        url: PostgresURL, poolSize: Int = 10, lockTimeout: Duration = .seconds(5), leaseTimeout: Duration = .seconds(5),
        observer: any StoreObserver = NoStoreObserver(), logger: Logger
    ) async throws -> PostgresStore {
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: try tls(for: url.tls))
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(5)
        // Every connection bounds its lock waits from the start (a startup parameter), so no
        // transaction pays a round trip to set it.
        configuration.options.additionalStartupParameters = [("lock_timeout", "\(Int(lockTimeout / .milliseconds(1)))ms")]
        // postgres-nio logs the messages it receives (rows included) at trace level and notices at
        // debug: never below info, whatever the server's level, so no stored value reaches a log.
        var logger = logger
        if logger.logLevel < .info { logger.logLevel = .info }
        let eventLoops = PostgresClient.defaultEventLoopGroup
        let client = PostgresClient(configuration: configuration, eventLoopGroup: eventLoops, backgroundLogger: logger)
        // The pool runs for the store's lifetime; close() ends it.
        let pool = Task { await client.run() }
        return PostgresStore(
            client: client, pool: pool, location: url.description, poolSize: max(1, poolSize),
            leaseTimeout: leaseTimeout, eventLoops: eventLoops, observer: observer, logger: logger)
    }

    private static func tls(for mode: PostgresURL.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable:
            return .disable
        case .prefer, .require:
            // As libpq: encrypted, the certificate not checked (use verify-full to check it).
            var unchecked = TLSConfiguration.makeClientConfiguration()
            unchecked.certificateVerification = .none
            return mode == .prefer ? .prefer(unchecked) : .require(unchecked)
        case .verifyFull:
            return .require(.makeClientConfiguration())
        }
    }

    // MARK: Transactions

    /// Runs `body` in one transaction on one pooled connection, with a bounded lock wait. A
    /// transaction that loses a race PostgreSQL detects (a unique insert, a serialization failure,
    /// a deadlock) is run again from the start, a few times; a lock not granted in time, or a
    /// database that cannot be reached, is ``TegataError/serviceUnavailable(_:)``: a 503, never a
    /// 500 and never a refusal of the client's credentials.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await observer.timed(.write) { try await self.retryingTransaction(body) }
    }

    private func retryingTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await watched { connection in
                    try await connection.withTransaction(logger: self.logger) { connection in try await body(connection) }
                }
            } catch {
                let failure = Self.classify(error)
                if failure == .raceLost, attempt < 5 { continue }
                throw Self.surface(error, as: failure)
            }
        }
    }

    /// Runs a read on one pooled connection (a single statement is its own snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await observer.timed(.read) {
            do {
                return try await watched(body)
            } catch {
                throw Self.surface(error, as: Self.classify(error))
            }
        }
    }

    /// Runs `work` on one pooled connection under a ``ConnectionWatch``: a lease that waits past
    /// `leaseTimeout`, or a connection that closes under the work, ends the request (a 503) instead
    /// of waiting without end; each is logged, at most once per ``PoolWarnings/interval``.
    private func watched<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await ConnectionWatch.run(
            on: client, leaseTimeout: leaseTimeout, eventLoop: eventLoops.next(),
            onOutcome: { [warnings, logger, poolSize, leaseTimeout] outcome in
                warnings.warn(outcome, poolSize: poolSize, leaseTimeout: leaseTimeout, logger: logger)
            }, work)
    }

    enum Failure: Equatable {
        case raceLost, busy, unreachable, other
    }

    /// What kind of failure `error` is, from its SQLSTATE (or its connection state).
    static func classify(_ error: any Error) -> Failure {
        var error = error
        if let transaction = error as? PostgresTransactionError {
            error = transaction.closureError ?? transaction.commitError ?? transaction.beginError ?? transaction.rollbackError ?? error
        }
        if let outcome = error as? ConnectionWatchOutcome {
            return outcome == .noConnection ? .busy : .unreachable
        }
        guard let psql = error as? PSQLError else {
            // The pool's own errors (no connection could be made: its circuit breaker, a lease that
            // timed out, a pool shut down) come from postgres-nio's internal pool module, which is
            // not a product that can be imported: recognised by their type's name.
            return String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError") ? .unreachable : .other
        }
        if let state = psql.serverInfo?[.sqlState] {
            switch state {
            case "23505", "40001", "40P01": return .raceLost
            case "55P03", "57014": return .busy  // lock_not_available, query_canceled (statement timeout)
            case "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004": return .unreachable
            default: return .other
            }
        }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .sslUnsupported,
             .failedToAddSSLHandler:
            return .unreachable
        default:
            return .other
        }
    }

    /// The error to throw for a failure: the store's own errors pass through; PostgreSQL's become a
    /// 503 when retrying later can help, or a storage error whose text is only its SQLSTATE and
    /// message (never a query's parameters).
    static func surface(_ error: any Error, as failure: Failure) -> any Error {
        var inner = error
        if let transaction = error as? PostgresTransactionError {
            inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError ?? error
        }
        switch failure {
        case .busy, .raceLost:
            if case .noConnection? = error as? ConnectionWatchOutcome {
                return TegataError.serviceUnavailable("no database connection is free; retry shortly")
            }
            return TegataError.serviceUnavailable("the database is busy; retry shortly")
        case .unreachable:
            return TegataError.serviceUnavailable("the database is unavailable; retry shortly")
        case .other:
            if inner is TegataError || inner is RevocationFeedCursor.Unrecognized || inner is PostgresStoreError { return inner }
            if let psql = inner as? PSQLError {
                let state = psql.serverInfo?[.sqlState] ?? "?"
                let message = psql.serverInfo?[.message] ?? "\(psql.code)"
                return PostgresStoreError(description: "PostgreSQL error \(state): \(message)")
            }
            return inner
        }
    }

    // MARK: Migrations

    /// The schema version this build migrates to.
    public static var newestSchemaVersion: Int { PostgresMigration.all.last?.version ?? 0 }

    public var newestSchemaVersion: Int { Self.newestSchemaVersion }

    /// Applies every pending migration, each in its own transaction that first takes a
    /// transaction-level advisory lock: replicas starting at the same moment apply each migration
    /// once, one after the other.
    public func migrate() async throws -> [Int] {
        var applied: [Int] = []
        for migration in PostgresMigration.all {
            let ran = try await transaction { connection -> Bool in
                // Another replica's migration may take a while: wait for it longer than for a row.
                try await connection.run("SET LOCAL lock_timeout = '300s'", logger: self.logger)
                try await connection.run("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: self.logger)
                try await connection.run(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
                    """, logger: self.logger)
                let current = try await Self.currentVersion(on: connection, logger: self.logger)
                guard current <= Self.newestSchemaVersion else {
                    throw PostgresStoreError(
                        description: "the database schema (version \(current)) is newer than this tegata knows (\(Self.newestSchemaVersion))")
                }
                guard migration.version > current else { return false }
                for statement in migration.statements {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.run(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(migration.version), \(migration.name), \(Date().ms))",
                    logger: self.logger)
                return true
            }
            if ran {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    /// The advisory lock key that orders migrations ("tegata" in ASCII).
    static let migrationLock: Int64 = 0x7465_6761_7461

    public func schemaVersion() async throws -> Int {
        try await read { connection in
            let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present", logger: self.logger)
                .collect().first?.makeRandomAccess()["present"].decode(Bool.self) ?? false
            guard exists else { return 0 }
            return try await Self.currentVersion(on: connection, logger: self.logger)
        }
    }

    private static func currentVersion(on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let row = try await connection.query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations", logger: logger)
            .collect().first
        return try row?.makeRandomAccess()["version"].decode(Int.self) ?? 0
    }

    // MARK: Lifecycle

    public func ping() async throws {
        try await read { connection in _ = try await connection.query("SELECT 1", logger: self.logger).collect() }
    }

    /// Waits for shutdown, then closes the pool.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes the pool; safe to call more than once.
    public func close() async {
        pool.cancel()
        await pool.value
    }

    public func prune(now: Date, idleLifetime: TimeInterval, webhookEventsBefore: Date, limit: Int) async throws -> PruneResult {
        // Each table in its own short transaction and in a fixed order, rows taken with SKIP LOCKED:
        // several replicas pruning at once neither wait for each other nor delete a row twice.
        let idleBefore = now.addingTimeInterval(-idleLifetime).ms
        var sessions = 0
        for condition in EndedSessions.allCases where sessions < limit {
            let remaining = limit - sessions
            sessions += try await transaction { connection in
                try await connection.query(
                    condition.delete(now: now.ms, idleBefore: idleBefore, limit: remaining), logger: self.logger
                ).collect().count
            }
        }
        let events = try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM revocation_events WHERE seq IN (
                    SELECT seq FROM revocation_events WHERE until <= \(now.ms) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING seq
                """, logger: self.logger).collect().count
        }
        let webhookEvents = try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM billing_events WHERE (source, event_id) IN (
                    SELECT source, event_id FROM billing_events WHERE received_at < \(webhookEventsBefore.ms)
                    LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING 1
                """, logger: self.logger).collect().count
        }
        let usedIDTokens = try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM used_id_tokens WHERE key IN (
                    SELECT key FROM used_id_tokens WHERE until <= \(now.ms) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING key
                """, logger: self.logger).collect().count
        }
        let nowMS = now.timeIntervalSince1970 * 1000
        let buckets = try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM rate_limits WHERE bucket IN (
                    SELECT bucket FROM rate_limits WHERE tat <= \(nowMS) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING bucket
                """, logger: self.logger).collect().count
        }
        return PruneResult(
            sessions: sessions, events: events, webhookEvents: webhookEvents, usedIDTokens: usedIDTokens, rateLimitBuckets: buckets)
    }

    // MARK: Signing keys

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await read { connection in
            try await connection.query(
                "SELECT kid, alg, sealed_private_key, created_at, activates_at FROM signing_keys ORDER BY position DESC",
                logger: self.logger
            ).collect().map { row in
                let row = row.makeRandomAccess()
                return StoredSigningKey(
                    keyID: try row["kid"].decode(String.self), algorithm: try row["alg"].decode(String.self),
                    sealedPrivateKey: try row["sealed_private_key"].decode(Data.self),
                    createdAt: Date(ms: try row["created_at"].decode(Int64.self)),
                    activatesAt: Date(ms: try row["activates_at"].decode(Int64.self)))
            }
        }
    }

    public func insertSigningKey(_ key: StoredSigningKey, removing: [String]) async throws {
        try await transaction { connection in
            for kid in removing {
                try await connection.run("DELETE FROM signing_keys WHERE kid = \(kid)", logger: self.logger)
            }
            try await connection.run(
                """
                INSERT INTO signing_keys (kid, alg, sealed_private_key, created_at, activates_at)
                VALUES (\(key.keyID), \(key.algorithm), \(key.sealedPrivateKey), \(key.createdAt.ms), \(key.activatesAt.ms))
                """, logger: self.logger)
        }
    }
}

/// A failure inside the PostgreSQL store: data that does not make sense, or an error PostgreSQL
/// reported (its SQLSTATE and message only).
struct PostgresStoreError: Error, CustomStringConvertible {
    let description: String
}

extension Date {
    /// Milliseconds since 1970, as the store keeps times.
    var ms: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    init(ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

/// The ended sessions pruning deletes, each condition in a statement of its own so that each walks
/// its own index (revoked sessions have a partial one), as in the SQLite store, where an `OR` of the
/// three read the whole table on every pass.
enum EndedSessions: CaseIterable {
    case revoked, pastAbsoluteEnd, idle

    func delete(now: Int64, idleBefore: Int64, limit: Int) -> PostgresQuery {
        switch self {
        case .revoked:
            """
            DELETE FROM sessions WHERE id IN (
                SELECT id FROM sessions WHERE revoked_at IS NOT NULL LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING id
            """
        case .pastAbsoluteEnd:
            """
            DELETE FROM sessions WHERE id IN (
                SELECT id FROM sessions WHERE absolute_expires_at <= \(now) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING id
            """
        case .idle:
            """
            DELETE FROM sessions WHERE id IN (
                SELECT id FROM sessions WHERE last_refreshed_at <= \(idleBefore) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING id
            """
        }
    }
}
