import Foundation
import TegataCore
import Testing

/// The audit table: events come back as written, newest first, filtered and paged, and old ones are pruned.
@Suite struct AuditContractTests {
    static func event(_ index: Int, type: AuditEventType = .signIn, user: String? = "user-a", seconds: TimeInterval? = nil) -> AuditEvent {
        AuditEvent(
            id: String(format: "event-%04d", index), time: Fixture.now.addingTimeInterval(seconds ?? TimeInterval(index)),
            type: type, outcome: index.isMultiple(of: 2) ? .success : .failure, userID: user, sessionID: "session-\(index)",
            clientAddress: "2001:db8::\(index)", requestID: "request-\(index)",
            details: ["method": "device", "quote": #"a "b" / \c ü"#])
    }

    @Test(arguments: StoreUnderTest.all)
    func eventsReadBackAsWrittenNewestFirstAndFiltered(store: StoreUnderTest) async throws {
        try await store.with { store in
            let events = (0..<10).map { Self.event($0, type: $0 < 5 ? .signIn : .logout, user: $0 < 7 ? "user-a" : "user-b") }
            try await store.appendAuditEvents(Array(events[0..<4]))
            try await store.appendAuditEvents(Array(events[4...]))
            #expect(try await store.auditEvents(AuditQuery()) == events.reversed())
            #expect(try await store.auditEvents(AuditQuery(userID: "user-b")) == events[7...].reversed())
            #expect(try await store.auditEvents(AuditQuery(type: .logout)) == events[5...].reversed())
            #expect(try await store.auditEvents(AuditQuery(userID: "user-a", type: .logout)) == events[5..<7].reversed())
            // since is inclusive, until exclusive; a page ends at limit and the next one starts at its last time.
            let window = AuditQuery(since: Fixture.now.addingTimeInterval(2), until: Fixture.now.addingTimeInterval(6))
            #expect(try await store.auditEvents(window) == events[2..<6].reversed())
            let first = try await store.auditEvents(AuditQuery(limit: 3))
            #expect(first == events[7...].reversed())
            #expect(try await store.auditEvents(AuditQuery(until: first.last?.time, limit: 3)) == events[4..<7].reversed())
            // An event with no user, session, address or request id, and no details.
            let bare = AuditEvent(id: "bare", time: Fixture.now.addingTimeInterval(100), type: .signingKeyRotated)
            try await store.appendAuditEvents([bare])
            #expect(try await store.auditEvents(AuditQuery(limit: 1)) == [bare])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func anEventWrittenTwiceIsKeptOnceAndOneTimeOrdersByID(store: StoreUnderTest) async throws {
        try await store.with { store in
            let same = (0..<3).map { Self.event($0, seconds: 5) }
            try await store.appendAuditEvents(same)
            try await store.appendAuditEvents([same[1]])  // a batch retried after an unknown outcome
            #expect(try await store.auditEvents(AuditQuery()) == same.reversed())
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func pruningDeletesOnlyEventsOlderThanTheRetentionInBatches(store: StoreUnderTest) async throws {
        try await store.with { store in
            let events = (0..<10).map { Self.event($0) }
            try await store.appendAuditEvents(events)
            #expect(try await store.pruneAuditEvents(before: Fixture.now.addingTimeInterval(6), limit: 4) == 4)
            #expect(try await store.pruneAuditEvents(before: Fixture.now.addingTimeInterval(6), limit: 4) == 2)
            #expect(try await store.pruneAuditEvents(before: Fixture.now.addingTimeInterval(6), limit: 4) == 0)
            #expect(try await store.auditEvents(AuditQuery()) == events[6...].reversed())
        }
    }
}
