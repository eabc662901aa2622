import Foundation
import TegataCore
import Testing

/// The decisions a store carries out for sign-in, linking, unlinking, refresh and logout, without I/O.
@Suite struct StoreDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func command(secret: String = String(repeating: "s", count: 32)) throws -> DeviceSignInCommand {
        let hash = Data(secret.utf8)
        return DeviceSignInCommand(
            credentials: try DeviceCredentials(deviceID: "device-0001", secret: secret, platform: "android"),
            secretMatches: { $0 == hash }, secretHash: hash, newUserID: "new-user", newSessionID: "new-session", clientID: "app",
            now: now, absoluteExpiresAt: now.addingTimeInterval(100))
    }

    @Test func aDeviceSignInRegistersSignsInOrRefusesWithoutRevealingARevocation() throws {
        let command = try Self.command()
        let right = Data(String(repeating: "s", count: 32).utf8), wrong = Data("x".utf8)
        #expect(DeviceSignInDecision.decide(stored: nil, command: command) == .register(userID: "new-user"))
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "u", secretHash: right, revokedAt: nil), command: command) == .signIn(userID: "u"))
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "u", secretHash: wrong, revokedAt: nil), command: command) == .wrongSecret)
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "u", secretHash: right, revokedAt: Self.now), command: command) == .deviceRevoked)
        // A wrong secret on a revoked device learns nothing about the revocation.
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "u", secretHash: wrong, revokedAt: Self.now), command: command) == .wrongSecret)
    }

    @Test func anImportedDeviceSignsInNowhereUntilItsUserClaimsItOnce() throws {
        var claim = try Self.command()
        claim.claimedUserID = "legacy-user"
        let right = Data(String(repeating: "s", count: 32).utf8), other = Data("x".utf8)
        let unclaimed = StoredDevice(userID: "legacy-user", secretHash: Data(), revokedAt: nil)
        // An empty hash matches nothing, whatever the secret check says.
        let anything = DeviceSignInCommand(
            credentials: claim.credentials, secretMatches: { _ in true }, secretHash: right, newUserID: "n", newSessionID: "s",
            clientID: "app", now: Self.now, absoluteExpiresAt: Self.now)
        #expect(DeviceSignInDecision.decide(stored: unclaimed, command: anything) == .wrongSecret)
        #expect(DeviceSignInDecision.decide(stored: unclaimed, command: try Self.command()) == .wrongSecret)

        #expect(DeviceSignInDecision.decide(stored: unclaimed, command: claim) == .claim(userID: "legacy-user"))
        #expect(DeviceSignInDecision.decide(stored: nil, command: claim) == .claimRefused(.unknownDevice, userID: nil))
        var otherUser = claim
        otherUser.claimedUserID = "someone-else"
        #expect(DeviceSignInDecision.decide(stored: unclaimed, command: otherUser) == .claimRefused(.wrongUser, userID: "legacy-user"))
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "legacy-user", secretHash: Data(), revokedAt: Self.now), command: claim)
            == .deviceRevoked)
        // Claimed already: the same secret again signs in (a retry); another secret, or another user, is refused.
        let claimed = StoredDevice(userID: "legacy-user", secretHash: right, revokedAt: nil)
        #expect(DeviceSignInDecision.decide(stored: claimed, command: claim) == .signIn(userID: "legacy-user"))
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "legacy-user", secretHash: other, revokedAt: nil), command: claim)
            == .claimRefused(.alreadyClaimed, userID: "legacy-user"))
        #expect(DeviceSignInDecision.decide(stored: claimed, command: otherUser) == .claimRefused(.alreadyClaimed, userID: "legacy-user"))
        #expect(DeviceSignInDecision.decide(stored: StoredDevice(userID: "legacy-user", secretHash: right, revokedAt: Self.now), command: claim)
            == .deviceRevoked)
    }

    @Test func theSessionASignInOpens() throws {
        let session = try Self.command().session(for: "u")
        #expect(session == Session(
            id: "new-session", userID: "u", deviceID: "device-0001", platform: "android", amr: ["device"], clientID: "app",
            createdAt: Self.now, lastRefreshedAt: Self.now, generation: 0, absoluteExpiresAt: Self.now.addingTimeInterval(100), revokedAt: nil))
        let identity = IdentitySignInCommand(
            identity: ExternalIdentity(provider: "apple", subject: "s", email: "a@example.com"), newUserID: "nu", newSessionID: "ns",
            clientID: "app", platform: "ios", amr: ["apple"], now: Self.now, absoluteExpiresAt: Self.now.addingTimeInterval(50))
        #expect(identity.session(for: "u").deviceID == nil && identity.session(for: "u").amr == ["apple"])
        #expect(IdentitySignInDecision.decide(owner: nil, command: identity) == .create(userID: "nu"))
        #expect(IdentitySignInDecision.decide(owner: "u", command: identity) == .signIn(userID: "u", updatingEmail: "a@example.com"))
    }

    @Test func linking() {
        func decide(owner: String?, exists: Bool = true, providers: [String] = []) -> LinkDecision {
            LinkDecision.decide(provider: "apple", owner: owner, userID: "u", userExists: exists, userProviders: providers)
        }
        #expect(decide(owner: nil) == .link)
        #expect(decide(owner: nil, providers: ["google"]) == .link)
        #expect(decide(owner: "u", providers: ["apple"]) == .alreadyLinked)
        #expect(decide(owner: "other") == .ownedByAnotherUser)
        #expect(decide(owner: nil, providers: ["apple"]) == .providerAlreadyLinked)
        #expect(decide(owner: nil, exists: false) == .noSuchUser)
        // Another user's identity is refused as theirs, even for a user that does not exist.
        #expect(decide(owner: "other", exists: false) == .ownedByAnotherUser)
    }

    @Test func unlinkingNeverRemovesTheLastWayToSignIn() {
        func decide(_ providers: [String], devices: Int) -> UnlinkDecision {
            UnlinkDecision.decide(provider: "apple", userProviders: providers, usableDevices: devices)
        }
        #expect(decide([], devices: 1) == .notLinked)
        #expect(decide(["google"], devices: 1) == .notLinked)
        #expect(decide(["apple"], devices: 0) == .lastWayToSignIn)
        #expect(decide(["apple"], devices: 1) == .unlink(becomesAnonymous: true))
        #expect(decide(["apple", "google"], devices: 0) == .unlink(becomesAnonymous: false))
        #expect(decide(["apple", "google"], devices: 2) == .unlink(becomesAnonymous: false))
    }

    static let session = Session(
        id: "s", userID: "u", deviceID: "d", platform: "ios", amr: ["device"], clientID: "app", createdAt: now,
        lastRefreshedAt: now, generation: 3, absoluteExpiresAt: now.addingTimeInterval(1_000), revokedAt: nil)

    @Test func theEffectsOfEachRefreshDecision() {
        let later = Self.now.addingTimeInterval(60), until = later.addingTimeInterval(900)
        var rotated = Self.session
        rotated.generation = 4
        rotated.lastRefreshedAt = later
        rotated.rotatedAt = later
        #expect(RefreshEffect.of(.rotate(newGeneration: 4), on: Self.session, now: later, eventUntil: until) == .rotate(rotated))
        #expect(RefreshEffect.of(.reissueCurrent, on: Self.session, now: later, eventUntil: until) == .reissue(Self.session))
        #expect(RefreshEffect.of(.revokeSession, on: Self.session, now: later, eventUntil: until)
                == .revoke(sessionID: "s", event: NewRevocationEvent(kind: .session(sid: "s"), until: until)))
        #expect(RefreshEffect.of(.reject(.idleExpired), on: Self.session, now: later, eventUntil: until) == .reject(.idleExpired))
        // No session: nothing to write, whatever was decided.
        #expect(RefreshEffect.of(.rotate(newGeneration: 1), on: nil, now: later, eventUntil: until) == .reject(.unknownSession))
        #expect(RefreshEffect.of(.reject(.revoked), on: nil, now: later, eventUntil: until) == .reject(.revoked))
    }

    @Test func endingOneSessionEndsTheDevicesTheRevocationNames() {
        let until = Self.now
        let handle = SessionHandle(id: "s", deviceID: "d1")
        func devices(_ revocation: DeviceRevocation, owned: [String] = ["d1", "d2"]) -> [String] {
            SessionRevocationPlan.one(handle, devices: revocation, userDevices: owned, eventUntil: until).deviceIDs
        }
        #expect(devices(.none) == [])
        #expect(devices(.ofEndedSessions(keeping: nil)) == ["d1"])
        #expect(devices(.ofEndedSessions(keeping: "d1")) == [])
        #expect(devices(.allOfUser(keeping: "d2")) == ["d1"])
        #expect(devices(.ofEndedSessions(keeping: nil), owned: ["d2"]) == [], "an already revoked device is not revoked again")
        let plan = SessionRevocationPlan.one(handle, devices: .none, userDevices: [], eventUntil: until)
        #expect(plan.sessionIDs == ["s"] && plan.newTokenVersion == nil && plan.events == [NewRevocationEvent(kind: .session(sid: "s"), until: until)])
    }

    @Test func endingManySessionsMovesTheTokenVersionOnceOrAnnouncesEachSession() {
        let until = Self.now
        let live = [SessionHandle(id: "s1", deviceID: "d1"), SessionHandle(id: "s2", deviceID: nil), SessionHandle(id: "s3", deviceID: "d3")]
        let global = SessionRevocationPlan.many(
            userID: "u", live: live, except: nil, bumpTokenVersion: true, tokenVersion: 7, devices: .allOfUser(keeping: nil),
            userDevices: ["d1", "d3", "d9"], eventUntil: until)
        #expect(global.sessionIDs == ["s1", "s2", "s3"] && global.deviceIDs == ["d1", "d3", "d9"] && global.newTokenVersion == 8)
        #expect(global.events == [NewRevocationEvent(kind: .user(sub: "u", tokenVersion: 8), until: until)])
        let others = SessionRevocationPlan.many(
            userID: "u", live: live, except: "s1", bumpTokenVersion: false, tokenVersion: 7, devices: .ofEndedSessions(keeping: "d1"),
            userDevices: ["d1", "d3", "d9"], eventUntil: until)
        #expect(others.sessionIDs == ["s2", "s3"] && others.deviceIDs == ["d3"] && others.newTokenVersion == nil)
        #expect(others.events == [NewRevocationEvent(kind: .session(sid: "s2"), until: until), NewRevocationEvent(kind: .session(sid: "s3"), until: until)])
        #expect(UserDeletionPlan.event(userID: "u", tokenVersion: 7, until: until) == NewRevocationEvent(kind: .user(sub: "u", tokenVersion: 8), until: until))
    }
}
