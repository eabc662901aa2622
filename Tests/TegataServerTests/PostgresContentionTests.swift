import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import PostgresNIO
import TegataCore
import TegataServer
import TegataStorePostgres
import TegataTestSupport
import TegataWire
import Testing

/// Contention on PostgreSQL: a request that waits too long for a row lock or for a connection is
/// answered 503 with `Retry-After`, loses nothing, and an exhausted pool shows in the log.
@Suite(.enabled(if: PostgresTestDatabase.isConfigured,
                "no PostgreSQL server configured (TEGATA_TEST_POSTGRES_URL): the PostgreSQL contention tests are skipped"))
struct PostgresContentionTests {
    /// Waits until some other backend of this database waits for a lock.
    static func waitForLockWaiter(on connection: PostgresConnection, logger: Logger) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let rows = try await connection.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                logger: logger).collect()
            if try rows.first?.makeRandomAccess()["n"].decode(Int.self) ?? 0 > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresDurabilityTests.Failure("no request came to wait for the lock")
    }

    @Test func aRefreshThatWaitsPastTheLockTimeoutIsA503AndTheTokenStillWorksAfterwards() async throws {
        let url = try await PostgresTestDatabase.create()
        defer { Task { await PostgresTestDatabase.drop(url) } }
        let postgres = try PostgresURL(parsing: url)
        let harness = Harness { configuration in
            configuration.database = .postgres(postgres)
            configuration.masterKey = .inline(Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ 9) }))
            configuration.databaseLockTimeout = 1
            configuration.databasePoolSize = 4
        }
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            try await PostgresTestDatabase.withConnection(to: url) { connection, logger in
                // Another transaction holds every session's row lock, longer than the lock timeout.
                try await connection.query("BEGIN", logger: logger)
                try await connection.query("SELECT id FROM sessions FOR UPDATE", logger: logger).collect()
                let started = ContinuousClock.now
                let response = try await client.refresh(tokens.refreshToken)
                #expect(response.status == .serviceUnavailable, "\(response.status): \(response.text)")
                #expect(response.headers[.retryAfter] == "1")
                #expect(response.errorBody?.error == .serverError)
                #expect(started.duration(to: .now) < .seconds(4), "bounded by the lock timeout")
                try await connection.query("COMMIT", logger: logger)
            }
            // Contention logged nobody out: the same token refreshes once the lock is gone.
            let next = try await client.refreshed(tokens.refreshToken)
            #expect(try await client.me(next.accessToken).status == .ok)
        }
    }

    @Test func aRequestThatFindsThePoolExhaustedIsA503AndTheExhaustionIsLogged() async throws {
        let url = try await PostgresTestDatabase.create()
        defer { Task { await PostgresTestDatabase.drop(url) } }
        let logs = LogCapture()
        let store = try await PostgresStore.open(
            url: try PostgresURL(parsing: url), poolSize: 1, lockTimeout: .seconds(20), leaseTimeout: .milliseconds(300), logger: logs.logger())
        // Opening the pool's one connection may take longer than the short lease timeout on a loaded
        // machine: the warm-up tries again until it has it (it then stays open, idle).
        let warmUp = ContinuousClock.now + .seconds(30)
        while true {
            do { _ = try await store.migrate(); break } catch where ContinuousClock.now < warmUp {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        // A slow warm-up may itself have found the pool exhausted (and said so, once per 10 s).
        let linesBeforeTheTest = logs.all.count
        try await PostgresTestDatabase.withConnection(to: url) { connection, logger in
            try await connection.query("BEGIN", logger: logger)
            try await connection.query("LOCK TABLE signing_keys IN ACCESS EXCLUSIVE MODE", logger: logger)
            // The pool's only connection waits for the lock...
            let holder = Task { try await store.signingKeys() }
            try await Self.waitForLockWaiter(on: connection, logger: logger)
            // ...so the next request finds no connection free, and gives up after the lease timeout.
            let started = ContinuousClock.now
            await #expect {
                _ = try await store.signingKeys()
            } throws: { error in
                guard let error = error as? TegataError, error.isUnavailable else { return false }
                return error.message.contains("no database connection is free")
            }
            #expect(started.duration(to: .now) < .seconds(5))
            try await connection.query("COMMIT", logger: logger)
            // The request that held the connection was not disturbed.
            #expect(try await holder.value.isEmpty)
        }
        let warnings = logs.all.filter { $0.contains("database pool exhausted") }
        let warningsOfTheTest = logs.all.dropFirst(linesBeforeTheTest).filter { $0.contains("database pool exhausted") }
        #expect(!warnings.isEmpty && warningsOfTheTest.count <= 2, "at least one line, and not one per request: \(logs.all)")
        #expect(warnings.first?.contains("pool_size=1") == true)
        await store.close()
    }
}
