import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TegataCore

/// Appends audit events to the store's audit table in batches, off the request path: a request
/// hands its event over and goes on; the writer commits what has gathered (for up to ``linger``,
/// or ``batch`` events) in one transaction.
/// While the database refuses, events wait (up to ``capacity``; past that new ones are dropped and
/// counted as `tegata_audit_events_dropped_total`) and the writer tries again every second. On
/// shutdown it writes what is left. The JSON-line stream has every event regardless.
public final class AuditTableWriter: Service, Sendable {
    private let store: any AuditStore
    private let logger: Logger
    private let metrics: TegataMetrics
    /// The queue, and whether a batch taken from it is being written: ``flush()`` must not report
    /// the table complete while the writer's loop still has a batch in flight.
    private let state = Mutex(State())
    private struct State {
        var pending: [AuditEvent] = []
        var writing = false
    }
    private let wake: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation
    /// Events kept while the database refuses.
    static let capacity = 10_000
    /// Events per transaction.
    static let batch = 500
    /// How long the writer waits for a batch to gather before it writes (an event is in the table
    /// about this long after its action).
    static let linger: Duration = .milliseconds(200)

    init(store: any AuditStore, metrics: TegataMetrics, logger: Logger) {
        self.store = store
        self.metrics = metrics
        self.logger = logger
        (wake, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues one event; never waits.
    func enqueue(_ event: AuditEvent) {
        let kept = state.withLock { state in
            guard state.pending.count < Self.capacity else { return false }
            state.pending.append(event)
            return true
        }
        if kept { wakeUp.yield() } else { metrics.increment("tegata_audit_events_dropped_total") }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in self.wake {
                // Let a batch gather: under load one transaction per linger, not one per event.
                if self.state.withLock({ $0.pending.count }) < Self.batch { try? await Task.sleep(for: Self.linger) }
                while !Task.isCancelled, await self.writeLoopBatch() {}
                if Task.isCancelled { break }
            }
        }
        // Shutdown: what has gathered, once more.
        _ = await flush()
    }

    /// Writes everything queued now, and waits for a batch the writer's own loop has in flight;
    /// false if the database refused (the events stay queued).
    @discardableResult
    public func flush() async -> Bool {
        while true {
            switch await writeBatch(retryDelay: nil) {
            case .wrote: continue
            case .failed: return false
            case .busy: try? await Task.sleep(for: .milliseconds(2))
            case .empty: return true
            }
        }
    }

    private enum BatchOutcome { case wrote, empty, busy, failed }

    /// Writes one batch, unless another is being written (`busy`). On a failure the batch goes back
    /// to the front of the queue and, with a delay, the writer waits before it says to go on.
    private func writeBatch(retryDelay: Duration?) async -> BatchOutcome {
        let taken = state.withLock { state -> [AuditEvent]? in
            guard !state.writing else { return nil }
            let taken = Array(state.pending.prefix(Self.batch))
            state.pending.removeFirst(taken.count)
            state.writing = !taken.isEmpty
            return taken
        }
        guard let batch = taken else { return .busy }
        guard !batch.isEmpty else { return .empty }
        do {
            try await store.appendAuditEvents(batch)
            state.withLock { $0.writing = false }
            return .wrote
        } catch {
            let dropped = state.withLock { state -> Int in
                state.pending.insert(contentsOf: batch, at: 0)
                let over = max(0, state.pending.count - Self.capacity)
                state.pending.removeLast(over)
                state.writing = false
                return over
            }
            if dropped > 0 { metrics.increment("tegata_audit_events_dropped_total", count: dropped) }
            logger.warning("audit events could not be written to the table; retrying", metadata: ["error": "\(error)"])
            if let retryDelay { try? await Task.sleep(for: retryDelay) }
            return .failed
        }
    }

    /// The loop's step: true while there may be more to write.
    private func writeLoopBatch() async -> Bool {
        switch await writeBatch(retryDelay: .seconds(1)) {
        case .wrote: return true
        case .empty: return false
        case .busy:
            // A flush is writing; what it leaves, this loop takes next.
            try? await Task.sleep(for: .milliseconds(2))
            return !Task.isCancelled
        case .failed: return !Task.isCancelled
        }
    }
}
