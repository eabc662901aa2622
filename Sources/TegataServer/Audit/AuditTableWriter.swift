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
    private let pending = Mutex<[AuditEvent]>([])
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
        let kept = pending.withLock { pending in
            guard pending.count < Self.capacity else { return false }
            pending.append(event)
            return true
        }
        if kept { wakeUp.yield() } else { metrics.increment("tegata_audit_events_dropped_total") }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in self.wake {
                // Let a batch gather: under load one transaction per linger, not one per event.
                if self.pending.withLock({ $0.count }) < Self.batch { try? await Task.sleep(for: Self.linger) }
                while !Task.isCancelled, await self.writeBatch() {}
                if Task.isCancelled { break }
            }
        }
        // Shutdown: what has gathered, once more.
        _ = await flush()
    }

    /// Writes everything queued now; false if the database refused (the events stay queued).
    @discardableResult
    public func flush() async -> Bool {
        while pending.withLock({ !$0.isEmpty }) {
            guard await writeBatch(retryDelay: nil) else { return false }
        }
        return true
    }

    /// Writes one batch; true if there may be more. On a failure the batch goes back to the front
    /// of the queue and, with a delay, the writer waits before it says to go on.
    private func writeBatch(retryDelay: Duration? = .seconds(1)) async -> Bool {
        let batch = pending.withLock { pending -> [AuditEvent] in
            let taken = Array(pending.prefix(Self.batch))
            pending.removeFirst(taken.count)
            return taken
        }
        guard !batch.isEmpty else { return false }
        do {
            try await store.appendAuditEvents(batch)
            return true
        } catch {
            let dropped = pending.withLock { pending -> Int in
                pending.insert(contentsOf: batch, at: 0)
                let over = max(0, pending.count - Self.capacity)
                pending.removeLast(over)
                return over
            }
            if dropped > 0 { metrics.increment("tegata_audit_events_dropped_total", count: dropped) }
            logger.warning("audit events could not be written to the table; retrying", metadata: ["error": "\(error)"])
            guard let retryDelay else { return false }
            try? await Task.sleep(for: retryDelay)
            return !Task.isCancelled
        }
    }
}
