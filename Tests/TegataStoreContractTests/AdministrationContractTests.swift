import Foundation
import TegataCore
import TegataWire
import Testing

/// What operators read from a store: a user's devices, and users found by identity, device and
/// creation time, a page at a time.
@Suite struct AdministrationContractTests {
    @Test(arguments: StoreUnderTest.all)
    func aUsersDevicesAreListedOldestFirstRevokedOnesToo(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (record, first) = try await Fixture.signedInDevice(store, "device-admin-1")
            // A second device of the same user cannot be registered through a sign-in, so another user's is not listed.
            _ = try await Fixture.signedInDevice(store, "device-admin-2", at: Fixture.now.addingTimeInterval(1))
            let later = Fixture.now.addingTimeInterval(5)
            _ = try await store.deviceSignIn(try Fixture.deviceSignIn("device-admin-1", at: later))
            #expect(try await store.devices(ofUser: record.user.id) == [
                DeviceSummary(id: "device-admin-1", platform: "ios", createdAt: Fixture.now, lastSignInAt: later, revokedAt: nil),
            ])
            _ = try await store.revokeSession(
                id: first.id, ownedBy: nil, devices: .ofEndedSessions(keeping: nil), now: later, eventUntil: later.addingTimeInterval(60))
            #expect(try await store.devices(ofUser: record.user.id).map(\.revokedAt) == [later])
            #expect(try await store.devices(ofUser: "no-such-user").isEmpty)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func usersAreFoundByIdentityDeviceAndCreationTimeAPageAtATime(store: StoreUnderTest) async throws {
        try await store.with { store in
            var users: [User] = []
            for index in 0..<7 {
                // Two users a second: each page boundary falls between users created at the same time too.
                let time = Fixture.now.addingTimeInterval(TimeInterval(index / 2))
                users.append(try await Fixture.signedInDevice(store, "device-find-\(index)", at: time).0.user)
            }
            let apple = try await store.identitySignIn(Fixture.identitySignIn("apple", "001234.abc", at: Fixture.now.addingTimeInterval(10))).record
            let ordered = (users + [apple.user]).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }

            // Every user, three at a time, each exactly once, in order.
            var seen: [User] = []
            var cursor: UserCursor?
            var pages = 0
            repeat {
                let page = try await store.findUsers(UserQuery(after: cursor, limit: 3))
                seen += page.users
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == ordered)
            #expect(pages == 3, "8 users, 3 a page")
            // A cursor survives its wire form.
            let page = try await store.findUsers(UserQuery(limit: 2))
            let wire = try #require(page.next.flatMap { UserCursor(rawValue: $0.rawValue) })
            #expect(try await store.findUsers(UserQuery(after: wire, limit: 2)).users == Array(ordered[2..<4]))

            #expect(try await store.findUsers(UserQuery(identity: ("apple", "001234.abc"))).users == [apple.user])
            #expect(try await store.findUsers(UserQuery(identity: ("apple", "001234.abd"))).users.isEmpty)
            #expect(try await store.findUsers(UserQuery(identity: ("google", "001234.abc"))).users.isEmpty)
            #expect(try await store.findUsers(UserQuery(deviceID: "device-find-3")).users == [users[3]])
            #expect(try await store.findUsers(UserQuery(deviceID: "device-find-3", createdAfter: Fixture.now.addingTimeInterval(2))).users.isEmpty,
                    "every filter must match")
            let window = UserQuery(createdAfter: Fixture.now.addingTimeInterval(1), createdBefore: Fixture.now.addingTimeInterval(3))
            #expect(try await store.findUsers(window).users == ordered.filter {
                $0.createdAt >= Fixture.now.addingTimeInterval(1) && $0.createdAt < Fixture.now.addingTimeInterval(3)
            })
            #expect(try await store.findUsers(window).users.count == 4)
            #expect(try await store.findUsers(UserQuery(limit: 100)).next == nil)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aDisabledUserSignsInByNoMethodUntilEnabledOrUntilItsEndPasses(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (record, first) = try await Fixture.signedInDevice(store, "device-disable-1")
            let second = try #require(try await store.deviceSignIn(try Fixture.deviceSignIn("device-disable-1")).session)
            _ = try await store.linkIdentity(ExternalIdentity(provider: "apple", subject: "a-disable", email: nil), toUser: record.user.id, now: Fixture.now)
            let other = try await Fixture.signedInDevice(store, "device-disable-2").1
            let start = try await store.revocationEvents(after: nil, now: Fixture.now, limit: 100).cursor
            let at = Fixture.now.addingTimeInterval(10)
            let until = Fixture.now.addingTimeInterval(100)
            #expect(try await store.disableUser(id: record.user.id, until: until, now: at, eventUntil: at.addingTimeInterval(900)))
            #expect(try await !store.disableUser(id: "no-such-user", until: nil, now: at, eventUntil: at.addingTimeInterval(900)))

            // The disablement is stored, the token version moved with one user event, every session ended, no device revoked.
            let user = try #require(try await store.userRecord(userID: record.user.id)).user
            #expect(user.disabled == Disablement(since: at, until: until) && user.tokenVersion == record.user.tokenVersion + 1)
            #expect(user.disabled(at: until.addingTimeInterval(-1)) != nil && user.disabled(at: until) == nil)
            let events = try await store.revocationEvents(after: start, now: at, limit: 100).events.map(\.kind)
            #expect(events == [.user(sub: record.user.id, tokenVersion: user.tokenVersion)])
            #expect(try await store.sessions(ofUser: record.user.id).map(\.id) == [first.id, second.id])
            #expect(try await store.sessions(ofUser: record.user.id).allSatisfy { $0.revokedAt == at })
            #expect(try await store.session(id: other.id)?.revokedAt == nil, "another user's session is untouched")
            #expect(try await store.devices(ofUser: record.user.id).allSatisfy { $0.revokedAt == nil })
            #expect(try await store.findUsers(UserQuery(deviceID: "device-disable-1")).users.first?.disabled == user.disabled)

            // While it is in force: no sign-in opens a session.
            let during = at.addingTimeInterval(1)
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("device-disable-1", at: during))
                    == .userDisabled(userID: record.user.id, Disablement(since: at, until: until)))
            let refused = try await store.identitySignIn(Fixture.identitySignIn("apple", "a-disable", at: during))
            #expect(refused.session == nil && refused.record.user.id == record.user.id && !refused.created)
            #expect(try await store.sessions(ofUser: record.user.id).count == 2, "nothing was opened")
            // Once its end has passed, the device signs in again by itself.
            let after = try await store.deviceSignIn(try Fixture.deviceSignIn("device-disable-1", at: until))
            #expect(after.session != nil)

            // Disabled with no end, then enabled: sign-ins work again, ended sessions stay ended.
            #expect(try await store.disableUser(id: record.user.id, until: nil, now: until, eventUntil: until.addingTimeInterval(900)))
            let far = until.addingTimeInterval(1_000_000)
            #expect(try await store.identitySignIn(Fixture.identitySignIn("apple", "a-disable", at: far)).session == nil)
            #expect(try await store.enableUser(id: record.user.id))
            #expect(try await !store.enableUser(id: "no-such-user"))
            #expect(try await store.userRecord(userID: record.user.id)?.user.disabled == nil)
            #expect(try await store.identitySignIn(Fixture.identitySignIn("apple", "a-disable", at: far)).session != nil)
            #expect(try await store.session(id: first.id)?.revokedAt == at)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func appClaimsAreReadWithTheUserByEverySignInAndRefresh(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (record, session) = try await Fixture.signedInDevice(store, "device-claims-1")
            #expect(record.appClaims.isEmpty)
            let claims: [String: JSONValue] = [
                "roles": .array([.string("admin"), .string("編集者")]), "npln_user_id": .string("0123"), "score": .number(1.5),
                "flags": .object(["beta": .bool(true), "none": .null]), "level": .integer(7),
            ]
            #expect(try await store.setAppClaims(userID: record.user.id, claims: claims))
            #expect(try await !store.setAppClaims(userID: "no-such-user", claims: claims))
            #expect(try await store.userRecord(userID: record.user.id)?.appClaims == claims)
            guard case .issued(let refreshed, _) = try await store.refresh(Fixture.refresh(session.id, generation: 0, at: Fixture.now)) else {
                throw Failure("the refresh was refused")
            }
            #expect(refreshed.appClaims == claims, "the refresh reads them with the user")
            guard case .signedIn(let again, _) = try await store.deviceSignIn(try Fixture.deviceSignIn("device-claims-1")) else {
                throw Failure("the sign-in was refused")
            }
            #expect(again.appClaims == claims)
            #expect(try await store.authState(sessionID: session.id, jti: nil, withUser: true)?.user?.appClaims == claims)
            #expect(try await Fixture.signedInDevice(store, "device-claims-2").0.appClaims.isEmpty, "another user has none")

            #expect(try await store.setAppClaims(userID: record.user.id, claims: [:]))
            #expect(try await store.userRecord(userID: record.user.id)?.appClaims.isEmpty == true)
        }
    }
}
