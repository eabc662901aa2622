import Foundation
import TegataCore
import Testing

/// Refresh as every store must apply the core's decision: rotate, reissue within grace, revoke a
/// replay with a feed event, refuse ended sessions — and serialise concurrent refreshes of one session.
@Suite struct RefreshContractTests {
    @Test(arguments: StoreUnderTest.all)
    func rotationGraceAndReplay(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (_, session) = try await Fixture.signedInDevice(store, "device-0001")
            let t1 = Fixture.now.addingTimeInterval(100)
            guard case .issued(_, let rotated) = try await store.refresh(Fixture.refresh(session.id, generation: 0, at: t1)) else {
                Issue.record("the current token must rotate"); return
            }
            #expect(rotated.generation == 1 && rotated.lastRefreshedAt == t1 && rotated.rotatedAt == t1)
            // The preceding token within grace gets the current state, unrotated.
            guard case .issued(_, let current) = try await store.refresh(Fixture.refresh(session.id, generation: 0, at: t1.addingTimeInterval(5))) else {
                Issue.record("the preceding token within grace must be answered"); return
            }
            #expect(current.generation == 1)
            // After grace it is a replay: the session is revoked, with a feed event.
            let before = try await store.revocationEvents(after: nil, now: t1, limit: 100).cursor
            #expect(try await store.refresh(Fixture.refresh(session.id, generation: 0, at: t1.addingTimeInterval(11))) == .revoked)
            #expect(try await store.refresh(Fixture.refresh(session.id, generation: 1, at: t1.addingTimeInterval(12))) == .rejected(.revoked))
            let feed = try await store.revocationEvents(after: before, now: t1.addingTimeInterval(12), limit: 100)
            #expect(feed.events.map(\.kind) == [.session(sid: session.id)])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func idleAbsoluteAndUnknownSessionsAreRefused(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (_, session) = try await Fixture.signedInDevice(store, "device-0001")
            #expect(try await store.refresh(Fixture.refresh(session.id, generation: 0, at: Fixture.now.addingTimeInterval(1_000))) == .rejected(.idleExpired))
            #expect(try await store.refresh(Fixture.refresh("no-such-session", generation: 0, at: Fixture.now)) == .rejected(.unknownSession))
            // Kept in use by refreshes, it still ends at its absolute lifetime.
            var time = Fixture.now
            var generation: Int64 = 0
            while time < Fixture.now.addingTimeInterval(9_500) {
                time = time.addingTimeInterval(900)
                guard case .issued(_, let next) = try await store.refresh(Fixture.refresh(session.id, generation: generation, at: time)) else {
                    Issue.record("a session in use must rotate"); return
                }
                generation = next.generation
            }
            #expect(try await store.refresh(Fixture.refresh(session.id, generation: generation, at: Fixture.now.addingTimeInterval(10_000)))
                == .rejected(.absolutelyExpired))
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aDeletedUsersSessionIsUnknown(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, session) = try await Fixture.signedInDevice(store, "device-0001")
            _ = try await store.deleteUser(id: user.user.id, now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900))
            #expect(try await store.refresh(Fixture.refresh(session.id, generation: 0, at: Fixture.now.addingTimeInterval(1))) == .rejected(.unknownSession))
            #expect(try await store.authState(sessionID: session.id, jti: nil, withUser: false) == nil)
        }
    }

    /// Twenty refreshes of one token at once: exactly one rotates, and every other one is answered
    /// with the state it produced (within grace) — never two rotations, never a revocation.
    @Test(arguments: StoreUnderTest.all)
    func concurrentRefreshesOfOneSessionConverge(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (_, session) = try await Fixture.signedInDevice(store, "device-0001")
            let time = Fixture.now.addingTimeInterval(50)
            let outcomes = try await withThrowingTaskGroup(of: RefreshOutcome.self) { group in
                // Each at its own moment (whole milliseconds, as stores keep times): a store that let two
                // of them rotate would store two rotation times.
                for index in 0..<20 {
                    group.addTask { try await store.refresh(Fixture.refresh(session.id, generation: 0, at: time.addingTimeInterval(Double(index) * 0.125))) }
                }
                return try await group.reduce(into: [RefreshOutcome]()) { $0.append($1) }
            }
            let generations = outcomes.compactMap { outcome -> Int64? in
                if case .issued(_, let state) = outcome { return state.generation }
                return nil
            }
            #expect(generations.count == 20 && Set(generations) == [1], "\(outcomes)")
            let rotations = Set(outcomes.compactMap { outcome -> Date? in
                if case .issued(_, let state) = outcome { return state.rotatedAt }
                return nil
            })
            #expect(rotations.count == 1, "exactly one of the concurrent refreshes rotated: \(rotations.count) did")
            guard case .issued(_, let after) = try await store.refresh(Fixture.refresh(session.id, generation: 1, at: time.addingTimeInterval(1))) else {
                Issue.record("the one current token rotates on"); return
            }
            #expect(after.generation == 2)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func touchingASessionKeepsItAliveWithoutMovingItsRotation(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, session) = try await Fixture.signedInDevice(store, "device-0001")
            let later = Fixture.now.addingTimeInterval(900)
            #expect(try await store.touchSession(id: session.id, now: later))
            #expect(try await store.touchSession(id: "no-such-session", now: later) == false)
            let state = try #require(try await store.authState(sessionID: session.id, jti: nil, withUser: true))
            #expect(state.session.lastRefreshedAt == later && state.session.rotatedAt == Fixture.now)
            #expect(state.user?.user.id == user.user.id && state.userTokenVersion == 0 && !state.tokenRevoked)
            // Alive past the first idle end, thanks to the touch.
            #expect(try await store.liveSessions(userID: user.user.id, now: Fixture.now.addingTimeInterval(1_500), idleLifetime: 1_000).map(\.id) == [session.id])
        }
    }
}
