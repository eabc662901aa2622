import Foundation
import TegataCore
import TegataWire
import Testing

/// Device sign-in, identity sign-in, linking and unlinking, as every store must do them.
@Suite struct SignInContractTests {
    @Test(arguments: StoreUnderTest.all)
    func deviceSignInRegistersThenSignsInAndRefusesAWrongSecret(store: StoreUnderTest) async throws {
        try await store.with { store in
            guard case .registered(let first, let session) = try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001")) else {
                Issue.record("a new device must register"); return
            }
            #expect(first.user.anon && first.identities.isEmpty && session.deviceID == "device-0001" && session.generation == 0)
            #expect(session.amr == ["device"] && session.revokedAt == nil)
            guard case .signedIn(let again, let second) = try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001")) else {
                Issue.record("a known device with its secret must sign in"); return
            }
            #expect(again.user.id == first.user.id && second.id != session.id)
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001", secret: String(repeating: "w", count: 32))) == .wrongSecret)
            #expect(try await store.deviceOwner(deviceID: "device-0001") == first.user.id)
            #expect(try await store.deviceOwner(deviceID: "device-9999") == nil)
            #expect(try await store.liveSessions(userID: first.user.id, now: Fixture.now, idleLifetime: 1_000).count == 2)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func twentyConcurrentFirstSignInsOfOneDeviceMakeOneUser(store: StoreUnderTest) async throws {
        try await store.with { store in
            let users = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        switch try await store.deviceSignIn(try Fixture.deviceSignIn("device-race")) {
                        case .registered(let record, _), .signedIn(let record, _): record.user.id
                        default: nil
                        }
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(users.allSatisfy { $0 != nil } && Set(users).count == 1)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aRevokedDeviceSignsInNowhereButAWrongSecretIsStillWrong(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, session) = try await Fixture.signedInDevice(store, "device-0001")
            #expect(try await store.revokeSession(id: session.id, ownedBy: user.user.id, devices: .ofEndedSessions(keeping: nil),
                                                  now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900)))
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001")) == .deviceRevoked)
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001", secret: String(repeating: "w", count: 32))) == .wrongSecret)
            #expect(try await store.deviceOwner(deviceID: "device-0001") == nil)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func afterDeletionTheDeviceRegistersANewUser(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, _) = try await Fixture.signedInDevice(store, "device-0001")
            #expect(try await store.deleteUser(id: user.user.id, now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900)))
            #expect(try await store.deleteUser(id: user.user.id, now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900)) == false)
            #expect(try await store.userRecord(userID: user.user.id) == nil)
            guard case .registered(let fresh, _) = try await store.deviceSignIn(try Fixture.deviceSignIn("device-0001")) else {
                Issue.record("the device must register anew"); return
            }
            #expect(fresh.user.id != user.user.id)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func twentyConcurrentFirstIdentitySignInsMakeOneUser(store: StoreUnderTest) async throws {
        try await store.with { store in
            let outcomes = try await withThrowingTaskGroup(of: IdentitySignInOutcome.self) { group in
                for _ in 0..<20 { group.addTask { try await store.identitySignIn(Fixture.identitySignIn("apple", "apple-user-1")) } }
                return try await group.reduce(into: [IdentitySignInOutcome]()) { $0.append($1) }
            }
            #expect(Set(outcomes.map(\.record.user.id)).count == 1)
            #expect(outcomes.filter(\.created).count == 1)
            #expect(outcomes.allSatisfy { !$0.record.user.anon && $0.record.identities == [IdentitySummary(provider: "apple", subject: "apple-user-1")] })
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func linkingKeepsTheUserAndRefusesConflicts(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (device, _) = try await Fixture.signedInDevice(store, "device-0001")
            let (other, _) = try await Fixture.signedInDevice(store, "device-0002")
            let apple = ExternalIdentity(provider: "apple", subject: "a-1", email: nil)
            guard case .linked(let linked) = try await store.linkIdentity(apple, toUser: device.user.id, now: Fixture.now) else {
                Issue.record("must link"); return
            }
            #expect(linked.user.id == device.user.id && !linked.user.anon)
            guard case .alreadyLinked = try await store.linkIdentity(apple, toUser: device.user.id, now: Fixture.now) else {
                Issue.record("linking again changes nothing"); return
            }
            #expect(try await store.linkIdentity(apple, toUser: other.user.id, now: Fixture.now) == .ownedByAnotherUser)
            #expect(try await store.linkIdentity(ExternalIdentity(provider: "apple", subject: "a-2", email: nil), toUser: device.user.id, now: Fixture.now)
                == .providerAlreadyLinked)
            #expect(try await store.linkIdentity(ExternalIdentity(provider: "line", subject: "l-1", email: nil), toUser: "no-such-user", now: Fixture.now)
                == .noSuchUser)
            #expect(try await store.userRecord(userID: other.user.id)?.user.anon == true, "nothing changed for the other user")
            // Identity sign-in now reaches the device user.
            #expect(try await store.identitySignIn(Fixture.identitySignIn("apple", "a-1")).record.user.id == device.user.id)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func unlinkingNeverRemovesTheLastWayToSignIn(store: StoreUnderTest) async throws {
        try await store.with { store in
            // An identity-only user: its one identity is its last way in.
            let apple = try await store.identitySignIn(Fixture.identitySignIn("apple", "a-1")).record
            #expect(try await store.unlinkIdentity(provider: "apple", fromUser: apple.user.id) == .lastWayToSignIn)
            #expect(try await store.unlinkIdentity(provider: "google", fromUser: apple.user.id) == .notLinked)
            _ = try await store.linkIdentity(ExternalIdentity(provider: "google", subject: "g-1", email: nil), toUser: apple.user.id, now: Fixture.now)
            guard case .unlinked(let left) = try await store.unlinkIdentity(provider: "apple", fromUser: apple.user.id) else {
                Issue.record("with another identity it can go"); return
            }
            #expect(left.identities.map(\.provider) == ["google"] && !left.user.anon)
            // A device user may unlink its only identity: the device remains, and the user is anonymous again.
            let (device, _) = try await Fixture.signedInDevice(store, "device-0001")
            _ = try await store.linkIdentity(ExternalIdentity(provider: "line", subject: "l-1", email: nil), toUser: device.user.id, now: Fixture.now)
            guard case .unlinked(let anonymous) = try await store.unlinkIdentity(provider: "line", fromUser: device.user.id) else {
                Issue.record("a device user can unlink"); return
            }
            #expect(anonymous.user.anon && anonymous.identities.isEmpty)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func identitiesAreStoredWithTheirEmailAndUsersAreCounted(store: StoreUnderTest) async throws {
        try await store.with { store in
            #expect(try await store.countUsers() == 0)
            var command = Fixture.identitySignIn("apple", "a-1")
            command.identity.email = "first@example.com"
            let user = try await store.identitySignIn(command).record.user
            _ = try await store.linkIdentity(ExternalIdentity(provider: "google", subject: "g-1", email: nil), toUser: user.id,
                                             now: Fixture.now.addingTimeInterval(5))
            // A later sign-in with a new email keeps the new one; one without keeps the old one.
            for email in ["second@example.com", nil] {
                var again = Fixture.identitySignIn("apple", "a-1", at: Fixture.now.addingTimeInterval(10))
                again.identity.email = email
                #expect(try await store.identitySignIn(again).record.user.id == user.id)
            }
            #expect(try await store.identities(ofUser: user.id) == [
                StoredIdentity(provider: "apple", subject: "a-1", email: "second@example.com", linkedAt: Fixture.now),
                StoredIdentity(provider: "google", subject: "g-1", email: nil, linkedAt: Fixture.now.addingTimeInterval(5)),
            ])
            #expect(try await store.identities(ofUser: "no-such-user").isEmpty)
            _ = try await Fixture.signedInDevice(store, "device-0001")
            #expect(try await store.countUsers() == 2)
        }
    }
}
