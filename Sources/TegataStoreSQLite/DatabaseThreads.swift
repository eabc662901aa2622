import Dispatch
import Foundation
import TegataCore
import Synchronization

/// The store's threads. Each owns one SQLite connection and runs jobs on it synchronously, so a
/// transaction costs one hand-over between threads however many statements it has.
///
/// - The writer groups the jobs that queue up while it is busy into one transaction ("group commit"):
///   each job runs inside a savepoint of its own (a failing job rolls back alone), and every job of
///   the batch is answered only after the one `COMMIT` is on disk. Durability (one fsync per batch
///   with `synchronous=FULL`) stays and its cost is shared.
/// - Readers take jobs one at a time from a shared queue (WAL mode: they never wait for the writer).

/// A write job: runs inside the batch's transaction and returns what to do once the commit is durable.
struct WriteJob: Sendable {
    let run: @Sendable (Database) throws -> @Sendable () -> Void
    let fail: @Sendable (any Error) -> Void
}

/// The one thread that writes.
final class DatabaseWriter: Sendable {
    /// At most this many jobs share a transaction.
    static let batchLimit = 128

    private let queue = JobQueue<WriteJob>()
    private let finished = Completion()
    private let observer: any StoreObserver

    private init(observer: any StoreObserver) {
        self.observer = observer
    }

    /// Opens the connection on a new thread and starts taking jobs.
    static func start(
        path: String, observer: any StoreObserver = NoStoreObserver(), configure: @escaping @Sendable (Database) throws -> Void
    ) async throws -> DatabaseWriter {
        let writer = DatabaseWriter(observer: observer)
        try await startThread(name: "tegata-sqlite-writer", path: path, configure: configure, finished: writer.finished) { db in
            while let batch = writer.queue.take(limit: batchLimit) {
                observer.commitBatch(size: batch.count)
                runBatch(batch, on: db)
            }
        }
        return writer
    }

    /// Runs `body` in a transaction (a savepoint of a shared one) and returns its result once the
    /// transaction has committed. If `body` throws, nothing it wrote is kept.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await observer.timed(.write) { try await enqueue(body) }
    }

    private func enqueue<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = WriteJob(
                run: { db in
                    let value = try body(db)
                    return { continuation.resume(returning: value) }
                },
                fail: { continuation.resume(throwing: $0) })
            if !queue.push(job) {
                continuation.resume(throwing: StorageError(description: "the database is closed"))
            }
        }
    }

    /// Finishes the queued jobs, closes the connection and ends the thread.
    func close() async {
        queue.close()
        await finished.wait()
    }

    /// One transaction for the batch; each job in a savepoint. Every job ends with exactly one call of
    /// its completion (after a successful commit) or of `fail`.
    static func runBatch(_ batch: [WriteJob], on db: Database) {
        var pending = batch[...]
        while !pending.isEmpty {
            do {
                try db.execute("BEGIN IMMEDIATE")
            } catch {
                for job in pending { job.fail(error) }
                return
            }
            var done: [(job: WriteJob, complete: @Sendable () -> Void)] = []
            var transactionLost: (any Error)?
            while transactionLost == nil, let job = pending.popFirst() {
                do {
                    try db.execute("SAVEPOINT job")
                } catch {
                    job.fail(error)
                    transactionLost = error
                    break
                }
                do {
                    let complete = try job.run(db)
                    try db.execute("RELEASE job")
                    done.append((job, complete))
                } catch {
                    job.fail(error)
                    // Some errors (a full disk, I/O) end the whole transaction; then the jobs before
                    // this one were lost too.
                    if db.isAutocommit {
                        transactionLost = error
                    } else {
                        do {
                            try db.execute("ROLLBACK TO job")
                            try db.execute("RELEASE job")
                        } catch {
                            transactionLost = error
                        }
                    }
                }
            }
            if let transactionLost {
                if !db.isAutocommit { try? db.execute("ROLLBACK") }
                for entry in done { entry.job.fail(transactionLost) }
                continue
            }
            do {
                try db.execute("COMMIT")
            } catch {
                if !db.isAutocommit { try? db.execute("ROLLBACK") }
                for entry in done { entry.job.fail(error) }
                continue
            }
            for entry in done { entry.complete() }
        }
    }
}

/// Threads that only read, sharing one queue.
final class DatabaseReaders: Sendable {
    private struct ReadJob: Sendable {
        let run: @Sendable (Database) -> Void
    }

    private let queue = JobQueue<ReadJob>()
    private let finished: [Completion]
    private let observer: any StoreObserver

    private init(count: Int, observer: any StoreObserver) {
        finished = (0..<count).map { _ in Completion() }
        self.observer = observer
    }

    /// Opens `count` connections, each on a thread of its own.
    static func start(
        path: String, count: Int, observer: any StoreObserver = NoStoreObserver(),
        configure: @escaping @Sendable (Database) throws -> Void
    ) async throws -> DatabaseReaders {
        let readers = DatabaseReaders(count: max(1, count), observer: observer)
        for (index, finished) in readers.finished.enumerated() {
            do {
                try await startThread(name: "tegata-sqlite-reader-\(index)", path: path, configure: configure, finished: finished) { db in
                    while let jobs = readers.queue.take(limit: 1) {
                        for job in jobs { job.run(db) }
                    }
                }
            } catch {
                // Stop the threads already started (this one has ended by itself).
                readers.queue.close()
                for started in readers.finished[...index] { await started.wait() }
                throw error
            }
        }
        return readers
    }

    /// Runs `body` on a reader connection. A body of several queries that must agree wraps them in
    /// `Database.snapshot`.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await observer.timed(.read) { try await enqueue(body) }
    }

    private func enqueue<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = ReadJob { db in continuation.resume(with: Result { try body(db) }) }
            if !queue.push(job) {
                continuation.resume(throwing: StorageError(description: "the database is closed"))
            }
        }
    }

    /// Finishes the queued jobs, closes the connections and ends the threads.
    func close() async {
        queue.close()
        for finished in finished { await finished.wait() }
    }
}

extension Database {
    /// Runs `body` in one read transaction, so its queries see one state of the database.
    func snapshot<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN DEFERRED")
        defer { try? execute("COMMIT") }
        return try body()
    }
}

/// Starts a thread that opens its own connection, reports whether that worked, then runs `loop`
/// with it. The connection is closed before `finished` is signalled.
private func startThread(
    name: String, path: String, configure: @escaping @Sendable (Database) throws -> Void, finished: Completion,
    loop: @escaping @Sendable (Database) -> Void
) async throws {
    try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, any Error>) in
        let thread = Thread {
            func run() {
                let db: Database
                do {
                    db = try Database(path: path)
                    try configure(db)
                } catch {
                    opened.resume(throwing: error)
                    return
                }
                opened.resume()
                loop(db)
            }
            run()  // `db` is released (and the connection closed) when `run` returns
            finished.finish()
        }
        thread.name = name
        thread.start()
    }
}

/// A FIFO of jobs for threads that block while it is empty.
final class JobQueue<Job: Sendable>: Sendable {
    private struct State {
        var jobs: [Job] = []
        var sleepers = 0
        var closed = false
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    /// Adds a job; false once the queue is closed.
    func push(_ job: Job) -> Bool {
        let outcome: (accepted: Bool, wake: Bool) = state.withLock { state in
            guard !state.closed else { return (false, false) }
            state.jobs.append(job)
            guard state.sleepers > 0 else { return (true, false) }
            state.sleepers -= 1
            return (true, true)
        }
        if outcome.wake { wakeup.signal() }
        return outcome.accepted
    }

    /// Waits for jobs and takes up to `limit` of them, oldest first; nil once closed and empty.
    func take(limit: Int) -> [Job]? {
        while true {
            let taken: [Job]?? = state.withLock { state in
                if !state.jobs.isEmpty {
                    let count = min(limit, state.jobs.count)
                    let batch = Array(state.jobs.prefix(count))
                    state.jobs.removeFirst(count)
                    return .some(batch)
                }
                if state.closed { return .some(nil) }
                state.sleepers += 1
                return .none
            }
            if let taken { return taken }
            wakeup.wait()
        }
    }

    /// Refuses new jobs; the threads finish the queued ones, then `take` returns nil.
    func close() {
        let sleepers = state.withLock { state in
            state.closed = true
            defer { state.sleepers = 0 }
            return state.sleepers
        }
        for _ in 0..<sleepers { wakeup.signal() }
    }
}

/// A one-time signal that async code can wait for.
final class Completion: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func finish() {
        let waiters = state.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
