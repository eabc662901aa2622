import Foundation
import TegataStorePostgres
import TegataTestSupport
import TegataCore
import Testing

/// Migrations, session reads, the feed cursor and the edges of unlinking, as every store must keep them.
@Suite struct LifecycleContractTests {
    @Test(arguments: StoreUnderTest.all)
    func aMigratedStoreIsAtTheNewestSchemaAndMigratingAgainAppliesNothing(store: StoreUnderTest) async throws {
        try await store.with { store in
            #expect(store.newestSchemaVersion > 0)
            #expect(try await store.schemaVersion() == store.newestSchemaVersion)
            #expect(try await store.migrate() == [])
            try await store.ping()
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func revokedSessionsStayReadableUntilPrunedOldestFirst(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, first) = try await Fixture.signedInDevice(store, "device-0001")
            let (_, second) = try await Fixture.signedInDevice(store, "device-0001", at: Fixture.now.addingTimeInterval(1))
            #expect(try await store.session(id: first.id) == first)
            #expect(try await store.session(id: "no-such-session") == nil)
            _ = try await store.revokeSession(id: first.id, ownedBy: nil, devices: .none, now: Fixture.now.addingTimeInterval(2),
                                              eventUntil: Fixture.now.addingTimeInterval(900))
            let all = try await store.sessions(ofUser: user.user.id)
            #expect(all.map(\.id) == [first.id, second.id])
            #expect(all[0].revokedAt == Fixture.now.addingTimeInterval(2) && all[1].revokedAt == nil)
            #expect(try await store.session(id: first.id)?.revokedAt == Fixture.now.addingTimeInterval(2))
            #expect(try await store.sessions(ofUser: "no-such-user").isEmpty)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aCursorFromBeyondTheFeedMovesBackAndANonCursorIsRefused(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, session) = try await Fixture.signedInDevice(store, "device-0001")
            _ = try await store.revokeSession(id: session.id, ownedBy: user.user.id, devices: .none, now: Fixture.now,
                                              eventUntil: Fixture.now.addingTimeInterval(900))
            let current = try await store.revocationEvents(after: nil, now: Fixture.now, limit: 100)
            #expect(current.events.count == 1 && !current.movedBack)
            let beyond = try #require(RevocationFeedCursor(rawValue: "99999999"))
            let moved = try await store.revocationEvents(after: beyond, now: Fixture.now, limit: 100)
            #expect(moved.movedBack && moved.events.isEmpty && moved.cursor == current.cursor)
            #expect(try await store.revocationEvents(after: current.cursor, now: Fixture.now, limit: 100).movedBack == false)
            let foreign = try #require(RevocationFeedCursor(rawValue: "not-a-cursor-of-this-feed"))
            await #expect(throws: RevocationFeedCursor.Unrecognized.self) {
                _ = try await store.revocationEvents(after: foreign, now: Fixture.now, limit: 100)
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aRevokedDeviceIsNoWayToSignInSoTheLastIdentityStays(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (device, _) = try await Fixture.signedInDevice(store, "device-0001")
            _ = try await store.linkIdentity(ExternalIdentity(provider: "apple", subject: "a-1", email: nil), toUser: device.user.id, now: Fixture.now)
            // Signed in with Apple elsewhere, the user logged out everywhere: the device is revoked.
            let apple = try #require(try await store.identitySignIn(Fixture.identitySignIn("apple", "a-1")).session)
            try await store.revokeSessions(userID: device.user.id, except: apple.id, bumpTokenVersion: false,
                                           devices: .allOfUser(keeping: nil), now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900))
            #expect(try await store.unlinkIdentity(provider: "apple", fromUser: device.user.id) == .lastWayToSignIn)
            #expect(try await store.userRecord(userID: device.user.id)?.identities.map(\.provider) == ["apple"])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aGlobalLogoutMovesTheTokenVersionByExactlyOneAndKeepsNothing(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, first) = try await Fixture.signedInDevice(store, "device-0001")
            let (_, second) = try await Fixture.signedInDevice(store, "device-0001")
            let until = Fixture.now.addingTimeInterval(900)
            try await store.revokeSessions(userID: user.user.id, except: nil, bumpTokenVersion: true, devices: .none, now: Fixture.now, eventUntil: until)
            #expect(try await store.userRecord(userID: user.user.id)?.user.tokenVersion == 1)
            #expect(try await store.sessions(ofUser: user.user.id).allSatisfy { $0.revokedAt != nil })
            #expect(try await store.authState(sessionID: first.id, jti: nil, withUser: false)?.userTokenVersion == 1)
            // Keeping one session (the caller's) moves the version too, and leaves that session live.
            let (_, third) = try await Fixture.signedInDevice(store, "device-0001")
            try await store.revokeSessions(userID: user.user.id, except: third.id, bumpTokenVersion: true, devices: .none, now: Fixture.now, eventUntil: until)
            #expect(try await store.userRecord(userID: user.user.id)?.user.tokenVersion == 2)
            #expect(try await store.session(id: third.id)?.revokedAt == nil && second.id != third.id)
            // An unknown user: nothing, and no event.
            let before = try await store.revocationEvents(after: nil, now: Fixture.now, limit: 100).events.count
            try await store.revokeSessions(userID: "no-such-user", except: nil, bumpTokenVersion: true, devices: .allOfUser(keeping: nil), now: Fixture.now, eventUntil: until)
            #expect(try await store.revocationEvents(after: nil, now: Fixture.now, limit: 100).events.count == before)
        }
    }
}

/// The PostgreSQL half of the suite runs only against a real server; it is skipped, saying why,
/// when none is configured — but never under CI, which must start one.
@Suite struct PostgresAvailabilityTests {
    @Test func postgresRunsUnderCI() {
        let underCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false
        if underCI {
            #expect(PostgresTestDatabase.isConfigured, "CI must run the store contract suite on PostgreSQL: set TEGATA_TEST_POSTGRES_URL")
        }
    }

    /// Replicas starting at the same moment migrate one database: each migration is applied once.
    @Test(.enabled(if: PostgresTestDatabase.isConfigured,
                   "no PostgreSQL server configured (TEGATA_TEST_POSTGRES_URL): the PostgreSQL store tests are skipped"))
    func replicasMigratingAtOnceApplyEachMigrationOnce() async throws {
        let url = try await PostgresTestDatabase.create()
        defer { Task { await PostgresTestDatabase.drop(url) } }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let store = try await PostgresStore.open(url: try PostgresURL(parsing: url), poolSize: 2, logger: StoreUnderTest.quiet)
                    do {
                        let versions = try await store.migrate()
                        await store.close()
                        return versions
                    } catch {
                        await store.close()
                        throw error
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Array(1...PostgresStore.newestSchemaVersion))
    }
}
