import Foundation
import Logging
import PostgresNIO
@testable import TegataStorePostgres
import TegataTestSupport
import Testing

/// Pruning walks indexes, never the whole sessions table: with ten million sessions a full read on
/// every pass (every ten minutes, holding SQLite's writer) stalled every sign-in and refresh.
/// (The SQLite store's plans are checked in TegataStoreSQLiteTests.)
@Suite(.enabled(if: PostgresTestDatabase.isConfigured,
                "no PostgreSQL server configured (TEGATA_TEST_POSTGRES_URL): the PostgreSQL pruning plan test is skipped"))
struct PostgresPruningPlanTests {
    @Test func everyEndedSessionDeleteUsesAnIndex() async throws {
        let url = try await PostgresTestDatabase.create()
        defer { Task { await PostgresTestDatabase.drop(url) } }
        var logger = Logger(label: "pruning-plan")
        logger.logLevel = .critical
        let store = try await PostgresStore.open(url: try PostgresURL(parsing: url), poolSize: 1, logger: logger)
        _ = try await store.migrate()
        await store.close()
        try await PostgresTestDatabase.withConnection(to: url) { connection, logger in
            // An empty table is cheapest to read whole: forbid that, so that the plan shows whether
            // an index could serve the statement at all (without one, the scan stays, at a huge cost).
            try await connection.query("SET enable_seqscan = off", logger: logger)
            // Each condition through the index of its own column; with the scan forbidden, a
            // condition no index serves reads some other index whole instead (seen: sessions_user_id).
            let indexes: [EndedSessions: String] = [
                .revoked: "sessions_revoked_at", .pastAbsoluteEnd: "sessions_absolute_expires_at", .idle: "sessions_last_refreshed_at",
            ]
            for condition in EndedSessions.allCases {
                var explain = condition.delete(now: 1_800_000_000_000, idleBefore: 1_799_000_000_000, limit: 500)
                explain.sql = "EXPLAIN " + explain.sql
                let plan = try await connection.query(explain, logger: logger).collect()
                    .map { try $0.decode(String.self) }.joined(separator: "\n")
                let scans = plan.split(separator: "\n").filter { $0.contains("Index Scan") && !$0.contains("sessions_pkey") }
                #expect(!plan.contains("Seq Scan"), "\(condition):\n\(plan)")
                #expect(!scans.isEmpty && scans.allSatisfy { $0.contains(" \(indexes[condition]!) ") }, "\(condition):\n\(plan)")
            }
        }
    }
}
