import Foundation
import TegataCore
import Testing

/// Revocations, the feed, pruning and what they leave, as every store must record them.
@Suite struct RevocationContractTests {
    @Test(arguments: StoreUnderTest.all)
    func everyKindOfRevocationAppearsOnceInOrderAfterAnyCursor(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, first) = try await Fixture.signedInDevice(store, "device-0001")
            let (_, second) = try await Fixture.signedInDevice(store, "device-0001")
            let (_, third) = try await Fixture.signedInDevice(store, "device-0001")
            let until = Fixture.now.addingTimeInterval(900)
            let start = try await store.revocationEvents(after: nil, now: Fixture.now, limit: 100).cursor
            #expect(try await store.revokeSession(id: first.id, ownedBy: user.user.id, devices: .none, now: Fixture.now, eventUntil: until))
            #expect(try await store.revokeSession(id: first.id, ownedBy: user.user.id, devices: .none, now: Fixture.now, eventUntil: until) == false)
            #expect(try await store.revokeSession(id: second.id, ownedBy: "someone-else", devices: .none, now: Fixture.now, eventUntil: until) == false)
            try await store.revokeAccessToken(jti: "jti-1", until: until, now: Fixture.now)
            try await store.revokeSessions(userID: user.user.id, except: third.id, bumpTokenVersion: false, devices: .none, now: Fixture.now, eventUntil: until)
            try await store.revokeSessions(userID: user.user.id, except: nil, bumpTokenVersion: true, devices: .none, now: Fixture.now, eventUntil: until)
            let all = try await store.revocationEvents(after: start, now: Fixture.now, limit: 100)
            #expect(all.events.map(\.kind) == [.session(sid: first.id), .token(jti: "jti-1"), .session(sid: second.id), .user(sub: user.user.id, tokenVersion: 1)])
            #expect(all.events.allSatisfy { $0.until == until })
            // After every cursor, exactly the events that follow it.
            var cursor = start
            for expected in all.events {
                let page = try await store.revocationEvents(after: cursor, now: Fixture.now, limit: 1)
                #expect(page.events == [expected])
                cursor = page.cursor
            }
            #expect(try await store.revocationEvents(after: cursor, now: Fixture.now, limit: 100).events.isEmpty)
            // authState sees all of it.
            let state = try #require(try await store.authState(sessionID: third.id, jti: "jti-1", withUser: false))
            #expect(state.session.revokedAt != nil && state.userTokenVersion == 1 && state.tokenRevoked)
            // Events are kept until their `until`, then no longer returned.
            #expect(try await store.revocationEvents(after: start, now: until.addingTimeInterval(1), limit: 100).events.isEmpty)
        }
    }

    /// Events written by concurrent writers are never skipped by a reader that follows the cursor.
    @Test(arguments: StoreUnderTest.all)
    func concurrentWritersNeverHideAnEventFromAFollower(store: StoreUnderTest) async throws {
        try await store.with { store in
            let until = Fixture.now.addingTimeInterval(900)
            let start = try await store.revocationEvents(after: nil, now: Fixture.now, limit: 1_000).cursor
            let seen = try await withThrowingTaskGroup(of: [String].self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for index in 0..<50 { try await store.revokeAccessToken(jti: "w\(writer)-\(index)", until: until, now: Fixture.now) }
                        return []
                    }
                }
                group.addTask {
                    var cursor = start
                    var jtis: [String] = []
                    let deadline = Date().addingTimeInterval(30)
                    while jtis.count < 200 && Date() < deadline {
                        let page = try await store.revocationEvents(after: cursor, now: Fixture.now, limit: 7)
                        for event in page.events { if case .token(let jti) = event.kind { jtis.append(jti) } }
                        cursor = page.cursor
                    }
                    return jtis
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(seen.count == 200 && Set(seen).count == 200)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func devicesAreRevokedAsTheRevocationSays(store: StoreUnderTest) async throws {
        try await store.with { store in
            // One user with two devices' sessions is impossible through sign-in (a new device is a new
            // user), so: a device user, and sessions of the same device.
            let (user, first) = try await Fixture.signedInDevice(store, "device-0001")
            let (_, second) = try await Fixture.signedInDevice(store, "device-0001")
            let until = Fixture.now.addingTimeInterval(900)
            try await store.revokeSessions(userID: user.user.id, except: second.id, bumpTokenVersion: false,
                                           devices: .allOfUser(keeping: "device-0001"), now: Fixture.now, eventUntil: until)
            #expect(try await store.deviceOwner(deviceID: "device-0001") == user.user.id, "the kept device stays")
            #expect(try await store.refresh(Fixture.refresh(first.id, generation: 0, at: Fixture.now)) == .rejected(.revoked))
            try await store.revokeSessions(userID: user.user.id, except: nil, bumpTokenVersion: true,
                                           devices: .allOfUser(keeping: nil), now: Fixture.now, eventUntil: until)
            #expect(try await store.deviceOwner(deviceID: "device-0001") == nil)
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001")) == .deviceRevoked)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func pruningRemovesWhatNoLongerMattersAndKeepsTheRest(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, revoked) = try await Fixture.signedInDevice(store, "device-0001")
            let (_, live) = try await Fixture.signedInDevice(store, "device-0001")
            let until = Fixture.now.addingTimeInterval(900)
            _ = try await store.revokeSession(id: revoked.id, ownedBy: nil, devices: .none, now: Fixture.now, eventUntil: until)
            _ = try await store.rememberSingleUse(key: "k", until: until, now: Fixture.now)
            let early = try await store.prune(now: Fixture.now.addingTimeInterval(1), idleLifetime: 1_000, webhookEventsBefore: .distantPast, limit: 100)
            #expect(early == PruneResult(sessions: 1, events: 0))
            #expect(try await store.liveSessions(userID: user.user.id, now: Fixture.now.addingTimeInterval(1), idleLifetime: 1_000).map(\.id) == [live.id])
            // Past the event's and the used token's `until` (900 s) but before the live session's idle end (1,000 s).
            let later = try await store.prune(now: until.addingTimeInterval(1), idleLifetime: 1_000, webhookEventsBefore: .distantPast, limit: 100)
            #expect(later == PruneResult(sessions: 0, events: 1, usedIDTokens: 1))
            let idle = try await store.prune(now: Fixture.now.addingTimeInterval(1_000), idleLifetime: 1_000, webhookEventsBefore: .distantPast, limit: 100)
            #expect(idle == PruneResult(sessions: 1, events: 0), "the session that went idle")
            #expect(try await store.userRecord(userID: user.user.id) != nil, "users are never pruned")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func pruningSharesItsLimitAmongRevokedExpiredAndIdleSessionsAndDeletesEachOnce(store: StoreUnderTest) async throws {
        try await store.with { store in
            let now = Fixture.now
            var revoked: [String] = [], expired: [String] = [], idle: [String] = [], live: [String] = []
            for index in 0..<3 {
                let (_, session) = try await Fixture.signedInDevice(store, "revoked-device-\(index)")
                _ = try await store.revokeSession(id: session.id, ownedBy: nil, devices: .none, now: now, eventUntil: now.addingTimeInterval(900))
                revoked.append(session.id)
                // Created 9,950 s ago: past its absolute end (10,000 s) at now + 100, though used just now.
                let (_, old) = try await Fixture.signedInDevice(store, "expired-device-\(index)", at: now.addingTimeInterval(-9_950))
                #expect(try await store.touchSession(id: old.id, now: now))
                expired.append(old.id)
                // Last used 2,000 s ago: idle (1,000 s) at now + 100.
                let (_, unused) = try await Fixture.signedInDevice(store, "idle-device-\(index)", at: now.addingTimeInterval(-2_000))
                idle.append(unused.id)
            }
            for index in 0..<2 {
                live.append(try await Fixture.signedInDevice(store, "live-device-\(index)").1.id)
            }
            var counts: [Int] = []
            for _ in 0..<4 {
                counts.append(try await store.prune(
                    now: now.addingTimeInterval(100), idleLifetime: 1_000, webhookEventsBefore: .distantPast, limit: 4).sessions)
            }
            #expect(counts == [4, 4, 1, 0], "nine ended sessions, at most four a pass, each deleted once")
            for id in revoked + expired + idle {
                #expect(try await store.session(id: id) == nil)
            }
            for id in live {
                #expect(try await store.session(id: id) != nil)
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func usedIDTokensAreRememberedOnce(store: StoreUnderTest) async throws {
        try await store.with { store in
            let until = Fixture.now.addingTimeInterval(600)
            #expect(try await store.rememberSingleUse(key: "k1", until: until, now: Fixture.now))
            #expect(try await store.rememberSingleUse(key: "k1", until: until, now: Fixture.now) == false)
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await store.rememberSingleUse(key: "k2", until: until, now: Fixture.now) } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1, "one of twenty concurrent uses wins")
        }
    }
}
