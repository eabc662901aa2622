import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// How a ``ConnectionWatch`` ended a request that its work did not end.
enum ConnectionWatchOutcome: Error {
    /// No connection was leased within the lease timeout.
    case noConnection
    /// The leased connection closed before the work ended.
    case connectionLost
}

/// Warns about requests a ``ConnectionWatch`` ended, at most once per `interval` for each kind,
/// with how many were ended since the last warning: a pool exhausted under a burst, or a database
/// gone away, shows in the log without flooding it.
final class PoolWarnings: Sendable {
    static var interval: Duration { .seconds(10) }
    private struct Last { var at: ContinuousClock.Instant; var suppressed: Int }
    private let last = Mutex<[ConnectionWatchOutcome: Last]>([:])

    func warn(_ outcome: ConnectionWatchOutcome, poolSize: Int, leaseTimeout: Duration, logger: Logger) {
        let now = ContinuousClock.now
        let count: Int? = last.withLock { last in
            if let previous = last[outcome], previous.at.duration(to: now) < Self.interval {
                last[outcome]?.suppressed += 1
                return nil
            }
            let count = (last[outcome]?.suppressed ?? 0) + 1
            last[outcome] = Last(at: now, suppressed: 0)
            return count
        }
        guard let count else { return }
        switch outcome {
        case .noConnection:
            logger.warning(
                "database pool exhausted: no connection was free within the lease timeout; answered 503 (raise TEGATA_DATABASE_POOL_SIZE within the server's max_connections, or check that the database is reachable)",
                metadata: ["pool_size": "\(poolSize)", "lease_timeout": "\(leaseTimeout)", "requests": "\(count)"])
        case .connectionLost:
            logger.warning(
                "a database connection closed under a request; answered 503",
                metadata: ["requests": "\(count)"])
        }
    }
}

/// One piece of work on one pooled connection, watched so that it always ends:
///
/// - **Waiting for a connection is bounded.** When every connection of the pool is busy (or none
///   can be made while the database is away) the request gives up after the lease timeout with
///   ``Outcome/noConnection``, instead of queueing until postgres-nio's circuit breaker opens a
///   minute later.
/// - **A connection that closes under the work ends it.** postgres-nio 1.33 loses a query written
///   to a connection whose channel has already closed — the write fails with no one listening and
///   the query's promise is never completed (its fix, vapor/postgres-nio#487, was reverted in #501).
///   At a database crash that is what happens to the `ROLLBACK` after a failed statement or to a
///   `COMMIT` sent just after the server went away, and the request would wait forever. The watch
///   sees the channel closed and, once the driver has had a moment to fail what it knows of, ends
///   the work with ``Outcome/connectionLost``. The abandoned query's task stays suspended (it cannot
///   be cancelled); it holds only the closed connection, which the pool has already replaced.
///
/// The work runs in a task of its own; the caller waits for whichever comes first: its result,
/// the lease timeout, or the loss of its connection. A repeating timer on an event loop (every
/// ``tick``) watches, and stops when the work ends.
final class ConnectionWatch<Value: Sendable>: Sendable {
    typealias Outcome = ConnectionWatchOutcome

    /// The work was abandoned before it was given its connection.
    struct Abandoned: Error {}

    private enum Phase {
        case leasing
        case leased(PostgresConnection, closedAt: NIODeadline?)
        case ended
    }

    private struct State {
        var phase: Phase = .leasing
        var continuation: CheckedContinuation<Value, any Error>?
        var timer: RepeatedTask?
    }

    static var tick: TimeAmount { .milliseconds(100) }
    /// How long a closed connection's work is given to fail by itself before it is abandoned.
    static var closedGrace: TimeAmount { .milliseconds(300) }

    private let state = Mutex(State())
    private let started = NIODeadline.now()
    private let leaseTimeout: TimeAmount

    private init(leaseTimeout: TimeAmount) {
        self.leaseTimeout = leaseTimeout
    }

    /// Runs `work` on a connection leased from `client`, watched as described above. `onOutcome`
    /// is told when the watch, not the work, ended the request.
    static func run(
        on client: PostgresClient, leaseTimeout: Duration, eventLoop: any EventLoop,
        onOutcome: @escaping @Sendable (Outcome) -> Void,
        _ work: @escaping @Sendable (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        let watch = ConnectionWatch(leaseTimeout: .nanoseconds(Int64(leaseTimeout / .nanoseconds(1))))
        return try await withCheckedThrowingContinuation { continuation in
            watch.state.withLock { $0.continuation = continuation }
            let task = Task {
                do {
                    let value = try await client.withConnection { connection in
                        guard watch.lease(connection) else { throw Abandoned() }
                        return try await work(connection)
                    }
                    watch.end(with: .success(value))
                } catch {
                    watch.end(with: .failure(error))
                }
            }
            let timer = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
                guard let outcome = watch.check(now: .now()) else { return }
                if outcome == .noConnection { task.cancel() }  // withdraws the lease request
                onOutcome(outcome)
            }
            let ended = watch.state.withLock { state -> Bool in
                if case .ended = state.phase { return true }
                state.timer = timer
                return false
            }
            if ended { timer.cancel() }
        }
    }

    /// Whether the work may use the connection it was just given (not if the watch gave up first).
    private func lease(_ connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard case .leasing = state.phase else { return false }
            state.phase = .leased(connection, closedAt: nil)
            return true
        }
    }

    /// Ends the request with the work's own result, unless the watch already ended it.
    private func end(with result: Result<Value, any Error>) {
        let (continuation, timer) = state.withLock { state in
            defer { state.phase = .ended; state.continuation = nil; state.timer = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }

    /// One tick of the timer: ends the request when the lease waited too long or the connection has
    /// been closed for `closedGrace`, and says which.
    private func check(now: NIODeadline) -> Outcome? {
        let (outcome, continuation, timer) = state.withLock { state -> (Outcome?, CheckedContinuation<Value, any Error>?, RepeatedTask?) in
            let outcome: Outcome
            switch state.phase {
            case .ended:
                return (nil, nil, nil)
            case .leasing:
                guard now - started >= leaseTimeout else { return (nil, nil, nil) }
                outcome = .noConnection
            case .leased(let connection, let closedAt):
                guard connection.isClosed else { return (nil, nil, nil) }
                guard let closedAt else {
                    state.phase = .leased(connection, closedAt: now)
                    return (nil, nil, nil)
                }
                guard now - closedAt >= Self.closedGrace else { return (nil, nil, nil) }
                outcome = .connectionLost
            }
            defer { state.phase = .ended; state.continuation = nil; state.timer = nil }
            return (outcome, state.continuation, state.timer)
        }
        timer?.cancel()
        guard let outcome, let continuation else { return nil }
        continuation.resume(throwing: outcome)
        return outcome
    }
}
