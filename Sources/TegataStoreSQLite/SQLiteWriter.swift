import Logging
import SQLiteNIO

/// The one connection that writes. SQLite allows one writer at a time; this actor makes transactions
/// strictly one after another (an actor alone would interleave them at every `await`).
actor SQLiteWriter {
    let connection: SQLiteConnection
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`; rolls back if it throws. The commit has
    /// happened when this returns.
    func transaction<T: Sendable>(_ body: @Sendable (SQLiteConnection) async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            let result = try await body(connection)
            _ = try await connection.query("COMMIT")
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    private func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            // Hand the gate straight to the next waiter; `busy` stays true.
            waiters.removeFirst().resume()
        }
    }
}
