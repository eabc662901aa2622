import Foundation
import Synchronization
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

/// The DPoP key a session is bound to, as every store keeps it.
@Suite struct DPoPBindingContractTests {
    @Test(arguments: StoreUnderTest.all)
    func aSessionKeepsTheKeyItWasOpenedWithThroughEveryRead(store: StoreUnderTest) async throws {
        try await store.with { store in
            var device = try Fixture.deviceSignIn("device-bound")
            device.dpopThumbprint = "thumb-device"
            guard case .registered(let record, let opened) = try await store.deviceSignIn(device) else {
                Issue.record("a new device must register"); return
            }
            #expect(opened.dpopThumbprint == "thumb-device")
            #expect(try await store.session(id: opened.id)?.dpopThumbprint == "thumb-device")
            #expect(try await store.authState(sessionID: opened.id, jti: nil, withUser: true)?.session.dpopThumbprint == "thumb-device")
            #expect(try await store.sessions(ofUser: record.user.id).map(\.dpopThumbprint) == ["thumb-device"])
            // The store hands the bound session to the decision, and a rotation keeps the binding.
            let seen = SeenThumbprint()
            let command = RefreshCommand(
                sessionID: opened.id,
                decide: { session in
                    seen.value = session?.dpopThumbprint
                    return RefreshDecision.decide(
                        presentedGeneration: 0, session: session, now: Fixture.now, policy: Fixture.policy, grace: 10, presentedKey: "thumb-device")
                },
                now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900))
            guard case .issued(_, let rotated) = try await store.refresh(command) else { Issue.record("the bound key must refresh"); return }
            #expect(seen.value == "thumb-device" && rotated.dpopThumbprint == "thumb-device" && rotated.generation == 1)
            // Without it, the store changes nothing.
            let refused = RefreshCommand(
                sessionID: opened.id,
                decide: { RefreshDecision.decide(presentedGeneration: 0, session: $0, now: Fixture.now, policy: Fixture.policy, grace: 0) },
                now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900))
            #expect(try await store.refresh(refused) == .rejected(.proofRequired))
            #expect(try await store.session(id: opened.id)?.revokedAt == nil, "a refusal for the key revokes nothing")

            var identity = Fixture.identitySignIn("apple", "subject-bound")
            identity.dpopThumbprint = "thumb-identity"
            let signedIn = try await store.identitySignIn(identity)
            #expect(signedIn.session?.dpopThumbprint == "thumb-identity")
            #expect(try await store.session(id: try #require(signedIn.session).id)?.dpopThumbprint == "thumb-identity")
            // An unbound sign-in stays unbound.
            let (_, plain) = try await Fixture.signedInDevice(store, "device-plain")
            #expect(try await store.session(id: plain.id)?.dpopThumbprint == nil)
        }
    }
}

/// What a refresh decision saw (set from the store's transaction).
final class SeenThumbprint: Sendable {
    private let state = Mutex<String?>(nil)
    var value: String? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

/// A refresh that spends a single-use record (a DPoP proof) does so in its own transaction.
@Suite struct RefreshSingleUseContractTests {
    @Test(arguments: StoreUnderTest.all)
    func aRefreshSpendsItsProofOnceAndOnlyWhenItIssuesTokens(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (_, session) = try await Fixture.signedInDevice(store, "device-proof")
            let proof = SingleUseRecord(key: "dpop:proof-1", until: Fixture.now.addingTimeInterval(90))
            var first = Fixture.refresh(session.id, generation: 0, at: Fixture.now)
            first.singleUse = proof
            guard case .issued(_, let rotated) = try await store.refresh(first) else { Issue.record("must rotate"); return }
            #expect(rotated.generation == 1)
            // The same proof again, with the current token: refused, nothing rotated.
            var again = Fixture.refresh(session.id, generation: 1, at: Fixture.now)
            again.singleUse = proof
            #expect(try await store.refresh(again) == .rejected(.proofReplayed))
            #expect(try await store.session(id: session.id)?.generation == 1)
            #expect(try await store.rememberSingleUse(key: proof.key, until: proof.until, now: Fixture.now) == false, "one table for both")
            // A refusal spends nothing: the proof of a refused refresh stays unrecorded.
            var refused = Fixture.refresh("00000000-0000-0000-0000-000000000000", generation: 0, at: Fixture.now)
            refused.singleUse = SingleUseRecord(key: "dpop:proof-2", until: Fixture.now.addingTimeInterval(90))
            #expect(try await store.refresh(refused) == .rejected(.unknownSession))
            #expect(try await store.rememberSingleUse(key: "dpop:proof-2", until: Fixture.now.addingTimeInterval(90), now: Fixture.now))
            // Concurrent refreshes with one proof: at most one issues tokens.
            let (_, other) = try await Fixture.signedInDevice(store, "device-proof-2")
            let shared = SingleUseRecord(key: "dpop:proof-3", until: Fixture.now.addingTimeInterval(90))
            let issued = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var command = Fixture.refresh(other.id, generation: 0, at: Fixture.now)
                        command.singleUse = shared
                        if case .issued = try await store.refresh(command) { return true }
                        return false
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(issued == 1)
        }
    }
}
