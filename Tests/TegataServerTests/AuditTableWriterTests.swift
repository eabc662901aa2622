import Foundation
import Synchronization
import TegataCore
@testable import TegataServer
import Testing

/// The table writer's `flush()` answers for every event handed over before it, including a batch
/// its own loop is writing at that moment.
@Suite struct AuditTableWriterTests {
    /// The real store, whose audit appends wait at a gate until the test opens it.
    final class GatedStore: AuditStore {
        let store: any AuditStore
        let entered = Mutex(0)
        let gate: AsyncStream<Void>
        let open: AsyncStream<Void>.Continuation
        init(_ store: any AuditStore) {
            self.store = store
            (gate, open) = AsyncStream.makeStream(of: Void.self)
        }
        func appendAuditEvents(_ events: [AuditEvent]) async throws {
            entered.withLock { $0 += 1 }
            for await _ in gate { break }
            try await store.appendAuditEvents(events)
        }
        func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] { try await store.auditEvents(query) }
        func pruneAuditEvents(before: Date, limit: Int) async throws -> Int { try await store.pruneAuditEvents(before: before, limit: limit) }
    }

    @Test func aFlushWaitsForTheBatchTheLoopIsWriting() async throws {
        let harness = Harness { $0.auditTable = true }
        try await harness.withStore { store in
            let gated = GatedStore(store)
            let writer = AuditTableWriter(store: gated, metrics: TegataMetrics(), logger: harness.logs.logger())
            let loop = Task { try await writer.run() }
            writer.enqueue(AuditEvent(id: "in-flight", time: harness.clock.now(), type: .logout))
            // The loop takes the event after its linger and waits at the gate with it.
            for _ in 0..<1_000 where gated.entered.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            try #require(gated.entered.withLock { $0 } == 1)

            let finished = Mutex(false)
            let flush = Task {
                let written = await writer.flush()
                finished.withLock { $0 = true }
                return written
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(!finished.withLock { $0 }, "flush answered while the loop's batch was not yet in the table")
            #expect(try await store.auditEvents(AuditQuery()).isEmpty)

            gated.open.yield()
            #expect(await flush.value == true)
            #expect(try await store.auditEvents(AuditQuery()).map(\.id) == ["in-flight"], "flush answered once the batch was in")
            gated.open.finish()
            loop.cancel()
            _ = try? await loop.value
        }
    }
}
