import Foundation
import Logging
import TegataCore
@testable import TegataServer
import Testing

/// The pruner deletes audit events past `TEGATA_AUDIT_RETENTION`, only when the table is on.
@Suite struct AuditRetentionTests {
    @Test(arguments: [true, false])
    func thePrunerDeletesEventsPastTheRetentionOnlyWithTheTableOn(table: Bool) async throws {
        let harness = Harness { $0.auditTable = table }
        try await harness.withStore { store in
            let now = harness.clock.now()
            let events = [now.addingTimeInterval(-7_200), now.addingTimeInterval(-3_000), now].enumerated().map { index, time in
                AuditEvent(id: "kept-\(index)", time: time, type: .logout)
            }
            try await store.appendAuditEvents(events)
            let pruner = SessionPruner(
                store: store, clock: harness.clock, interval: 60, idleLifetime: 86_400,
                auditRetention: table ? 3_600 : nil, logger: harness.logs.logger())
            await pruner.pruneOnce()
            let left = try await store.auditEvents(AuditQuery()).map(\.id)
            #expect(left == (table ? ["kept-2", "kept-1"] : ["kept-2", "kept-1", "kept-0"]))
            #expect(harness.logs.all.contains { $0.contains("audit_events=1") } == table)
        }
    }
}
