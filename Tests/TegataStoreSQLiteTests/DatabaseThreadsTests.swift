import Foundation
import Synchronization
@testable import TegataStoreSQLite
import Testing

/// The store's own SQLite layer: value round trips, group commit with per-job rollback, and the
/// writer and reader threads.
@Suite struct DatabaseThreadsTests {
    struct Boom: Error {}

    /// A database path whose directory exists (the store creates it itself; raw connections do not).
    private func pathInNewDirectory() throws -> String {
        let path = temporaryDatabasePath()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return path
    }

    private func freshDatabase() throws -> (Database, String) {
        let path = try pathInNewDirectory()
        let db = try Database(path: path)
        try db.execute("PRAGMA journal_mode = WAL")
        try db.execute("CREATE TABLE t (v TEXT NOT NULL UNIQUE)")
        return (db, path)
    }

    @Test func valuesRoundTripExactly() throws {
        let (db, _) = try freshDatabase()
        try db.execute("CREATE TABLE v (a, b, c, d, e, f, g, h)")
        let values: [SQLValue] = [
            .null, .integer(.max), .integer(.min), .real(0.5), .text("nul\u{0}inside é"), .text(""),
            .blob(Data()), .blob(Data([0, 1, 255])),
        ]
        try db.query("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
        let row = try #require(try db.query("SELECT * FROM v").first)
        #expect(row.names == ["a", "b", "c", "d", "e", "f", "g", "h"])
        #expect(row.values == values)
        // Statements are cached and reused as they are, with every parameter bound each time.
        let lookup = "SELECT b FROM v WHERE a IS ? AND e = ?"
        for round in 0..<5 {
            #expect(try db.query(lookup, [.null, .text("nul\u{0}inside é")]).count == 1)
            #expect(try db.query(lookup, [.int(round), .text("x")]).isEmpty)
        }
        #expect(db.reprepareCount(lookup) == 0)
        #expect(throws: StorageError.self) { try db.query(lookup, [.null]) }
        #expect(throws: StorageError.self) { try db.query(lookup, [.null, .null, .null]) }
    }

    @Test func theStoresQueriesAreNotPreparedAgainOnEveryUse() async throws {
        let path = temporaryDatabasePath()
        await (try await SQLiteStore.open(path: path, logger: quietLogger)).close()
        let db = try Database(path: path)
        // The shapes of the hot-path reads (clearing bindings between uses made SQLite re-prepare these).
        let queries = [
            "SELECT name, expires_at FROM entitlements WHERE user_id = ? ORDER BY name",
            "SELECT provider, subject FROM identities WHERE user_id = ? ORDER BY provider, subject",
        ]
        for sql in queries {
            for round in 0..<5 { try db.query(sql, [.text("user-\(round)")]) }
            #expect(db.reprepareCount(sql) == 0, "\(sql)")
        }
    }

    @Test func sqlErrorsAreThrownWithoutTheBoundValues() throws {
        let (db, _) = try freshDatabase()
        try db.query("INSERT INTO t VALUES (?)", [.text("secret-value-1")])
        let error = #expect(throws: StorageError.self) {
            try db.query("INSERT INTO t VALUES (?)", [.text("secret-value-1")])
        }
        #expect(error?.description.contains("UNIQUE") == true)
        #expect(error?.description.contains("secret-value-1") == false)
        #expect(throws: StorageError.self) { try db.query("SELEKT nonsense") }
        // A second statement would be silently skipped: refused instead.
        #expect(throws: StorageError.self) { try db.execute("INSERT INTO t VALUES ('x'); DROP TABLE t") }
        #expect(try db.query("SELECT COUNT(*) AS n FROM t").first?.int("n") == 1)
    }

    /// Records how each job of a batch ended, and whether its row was visible to another connection
    /// at the moment it was answered (it must be: answers come after the commit).
    final class Outcomes: Sendable {
        let state = Mutex<[String: String]>([:])
        func set(_ job: String, _ outcome: String) { state.withLock { $0[job] = outcome } }
        var all: [String: String] { state.withLock { $0 } }
    }

    private func job(_ name: String, path: String, outcomes: Outcomes, body: @escaping @Sendable (Database) throws -> Void) -> WriteJob {
        WriteJob(
            run: { db in
                try db.query("INSERT INTO t VALUES (?)", [.text(name)])
                try body(db)
                return {
                    let other = try? Database(path: path)
                    let visible = (try? other?.query("SELECT 1 FROM t WHERE v = ?", [.text(name)]).isEmpty == false) ?? false
                    outcomes.set(name, visible ? "committed" : "answered before commit")
                }
            },
            fail: { _ in outcomes.set(name, "failed") })
    }

    @Test func aFailingJobRollsBackAloneAndTheOthersAreAnsweredAfterTheCommit() throws {
        let (db, path) = try freshDatabase()
        let outcomes = Outcomes()
        DatabaseWriter.runBatch([
            job("a", path: path, outcomes: outcomes) { _ in },
            job("b", path: path, outcomes: outcomes) { _ in throw Boom() },
            job("c", path: path, outcomes: outcomes) { _ in },
            // A constraint violation inside the transaction is rolled back to its savepoint too.
            job("d", path: path, outcomes: outcomes) { db in try db.query("INSERT INTO t VALUES ('a')") },
        ], on: db)
        #expect(outcomes.all == ["a": "committed", "b": "failed", "c": "committed", "d": "failed"])
        #expect(try db.query("SELECT v FROM t ORDER BY v").map { try $0.string("v") } == ["a", "c"])
        #expect(db.isAutocommit)
    }

    @Test func whenSQLiteEndsTheTransactionTheJobsBeforeFailAndTheRestRunInANewOne() throws {
        let (db, path) = try freshDatabase()
        let outcomes = Outcomes()
        DatabaseWriter.runBatch([
            job("a", path: path, outcomes: outcomes) { _ in },
            // Stands in for SQLITE_FULL or an I/O error, after which SQLite has rolled everything back.
            job("b", path: path, outcomes: outcomes) { db in
                try db.execute("ROLLBACK")
                throw Boom()
            },
            job("c", path: path, outcomes: outcomes) { _ in },
        ], on: db)
        #expect(outcomes.all == ["a": "failed", "b": "failed", "c": "committed"])
        #expect(try db.query("SELECT v FROM t").map { try $0.string("v") } == ["c"])
    }

    @Test func concurrentWritesAllLandAndEachGetsItsOwnResult() async throws {
        let path = try pathInNewDirectory()
        let writer = try await DatabaseWriter.start(path: path) { db in
            try db.execute("PRAGMA journal_mode = WAL")
            try db.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL UNIQUE)")
        }
        let readers = try await DatabaseReaders.start(path: path, count: 2) { _ in }
        let results = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
            for i in 0..<300 {
                group.addTask {
                    let value = try await writer.write { db in
                        try db.query("INSERT INTO t VALUES (?) RETURNING v", [.int(i)]).first?.int("v") ?? -1
                    }
                    return (i, value)
                }
            }
            var all: [Int: Int64] = [:]
            for try await (i, value) in group { all[i] = value }
            return all
        }
        #expect(results.count == 300)
        #expect(results.allSatisfy { Int64($0.key) == $0.value })
        let count = try await readers.read { db in try db.query("SELECT COUNT(*) AS n FROM t").first?.int("n") }
        #expect(count == 300)
        // A failing write in the crowd fails alone.
        await #expect(throws: StorageError.self) {
            try await writer.write { db in try db.query("INSERT INTO t VALUES (1)") }
        }
        await readers.close()
        await writer.close()
        await #expect(throws: StorageError.self) { try await writer.write { _ in 1 } }
        await #expect(throws: StorageError.self) { try await readers.read { _ in 1 } }
        await writer.close()  // closing twice is harmless
    }

    @Test func closingAnswersEveryWriteAndKeepsEveryOneItAnsweredAsDone() async throws {
        let path = try pathInNewDirectory()
        let writer = try await DatabaseWriter.start(path: path) { db in
            try db.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL)")
        }
        let writes = (0..<50).map { i in
            Task { try await writer.write { db in try db.query("INSERT INTO t VALUES (?)", [.int(i)]) }.count }
        }
        await writer.close()
        var outcomes: [Bool] = []
        for write in writes { outcomes.append((try? await write.value) != nil) }
        // Every write either landed before the close or was refused; none hangs. Those that landed are in the file.
        let db = try Database(path: path)
        let stored = try db.query("SELECT COUNT(*) AS n FROM t").first?.int("n")
        #expect(stored == Int64(outcomes.filter { $0 }.count))
    }

    @Test func aDatabaseThatCannotBeOpenedIsAnErrorNotAHang() async throws {
        await #expect(throws: StorageError.self) {
            _ = try await DatabaseWriter.start(path: "/proc/no-such-dir/x.sqlite") { _ in }
        }
        await #expect(throws: StorageError.self) {
            _ = try await DatabaseReaders.start(path: "/proc/no-such-dir/x.sqlite", count: 2) { _ in }
        }
    }
}

@Suite struct AMRColumnTests {
    @Test func amrIsStoredAsAJSONArrayWhateverItHolds() throws {
        for amr in [[], ["device"], ["device", "apple", "oidc.example-1"], ["with \"quote\"", "back\\slash", "é"], [""], ["a\",\"b"]] {
            let text = try SQLiteStore.encodeAMR(amr)
            #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == amr, "\(text)")
            #expect(try SQLiteStore.decodeAMR(text) == amr, "\(text)")
        }
        // What another writer (or an older build) stored, spaced differently, still reads.
        #expect(try SQLiteStore.decodeAMR(#"[ "device" , "apple" ]"#) == ["device", "apple"])
        #expect(throws: (any Error).self) { try SQLiteStore.decodeAMR("not json") }
    }
}

@Suite struct SQLiteMemoryTests {
    /// The cache and map reported by every connection of a store.
    private func settings(of store: SQLiteStore) async throws -> [[Int64]] {
        @Sendable func read(_ db: Database) throws -> [Int64] {
            let cache: Int64 = try db.query("PRAGMA cache_size").first?.int("cache_size") ?? 0
            let map: Int64 = try db.query("PRAGMA mmap_size").first?.int("mmap_size") ?? 0
            return [cache, map]
        }
        return [try await store.writer.write(read), try await store.readers.read(read)]
    }

    @Test func everyConnectionGetsTheCacheAndMapAsked() async throws {
        let store = try await SQLiteStore.open(
            path: temporaryDatabasePath(), readerCount: 1, memory: SQLiteMemory(cacheMiB: 8, mmapMiB: 64), logger: quietLogger)
        // A negative cache_size is in KiB.
        let asked: [Int64] = [-8 * 1024, 64 * 1024 * 1024]
        #expect(try await settings(of: store) == [asked, asked])
        await store.close()
        let off = try await SQLiteStore.open(
            path: temporaryDatabasePath(), readerCount: 1, memory: SQLiteMemory(cacheMiB: 1, mmapMiB: 0), logger: quietLogger)
        let small: [Int64] = [-1024, 0]
        #expect(try await settings(of: off) == [small, small])
        await off.close()
    }

    @Test func theStandardSettingsAreWhatServeStartsWith() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), readerCount: 1, logger: quietLogger)
        let standard = SQLiteMemory.standard
        let expected: [Int64] = [-Int64(standard.cacheMiB) * 1024, Int64(standard.mmapMiB) * 1024 * 1024]
        #expect(try await settings(of: store) == [expected, expected])
        await store.close()
    }
}

@Suite struct PruningPlanTests {
    /// Pruning walks indexes, never the whole sessions table: with ten million sessions a full read
    /// on every pass (every ten minutes, holding the writer) stalled every sign-in and refresh.
    @Test func everyEndedSessionDeleteUsesAnIndex() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), readerCount: 1, logger: quietLogger)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let plans = try await store.readers.read { db in
            try SQLiteStore.endedSessionDeletes(now: now, idleBefore: now.addingTimeInterval(-1_000)).map { sql, values in
                try db.query("EXPLAIN QUERY PLAN " + sql, values + [.int(500)]).map { try $0.string("detail") }
            }
        }
        // Revoked, past the absolute end, idle: each through the index of its own column.
        let indexes = ["sessions_revoked_at", "sessions_absolute_expires_at", "sessions_last_refreshed_at"]
        #expect(plans.count == indexes.count)
        for (plan, index) in zip(plans, indexes) {
            #expect(plan.contains { $0.hasPrefix("SEARCH sessions USING INDEX \(index) ") }, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN sessions") }, "\(plan)")
        }
        await store.close()
    }
}
