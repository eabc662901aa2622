import Foundation
import TegataCore
import Testing

@Suite struct RefreshDecisionTests {
    let policy = SessionPolicy(idleLifetime: 1_000, absoluteLifetime: 10_000, reuseGrace: 10)
    let created = Date(timeIntervalSince1970: 1_800_000_000)

    /// A session at generation `generation`, rotated and last used `lastRefreshed` seconds after
    /// `created` (or last used later, at `lastUsed`, by a cookie renewal).
    func session(generation: Int64 = 5, lastRefreshed: TimeInterval = 100, lastUsed: TimeInterval? = nil, revoked: Bool = false) -> Session {
        Session(
            id: "s", userID: "u", deviceID: nil, platform: "ios", amr: ["device"], clientID: "c", createdAt: created,
            lastRefreshedAt: created.addingTimeInterval(lastUsed ?? lastRefreshed), rotatedAt: created.addingTimeInterval(lastRefreshed),
            generation: generation, absoluteExpiresAt: created.addingTimeInterval(10_000), revokedAt: revoked ? created : nil)
    }

    func decide(_ presented: Int64, _ session: Session?, at seconds: TimeInterval, grace: TimeInterval? = nil) -> RefreshDecision {
        RefreshDecision.decide(
            presentedGeneration: presented, session: session, now: created.addingTimeInterval(seconds), policy: policy,
            grace: grace ?? policy.reuseGrace)
    }

    @Test func aFreshSessionsFirstTokenRotates() {
        #expect(decide(0, session(generation: 0, lastRefreshed: 0), at: 1) == .rotate(newGeneration: 1))
    }

    @Test func theCurrentTokenRotatesWhenever() {
        #expect(decide(5, session(), at: 100) == .rotate(newGeneration: 6))
        #expect(decide(5, session(), at: 105) == .rotate(newGeneration: 6))
        #expect(decide(5, session(), at: 1_099) == .rotate(newGeneration: 6), "just inside the idle lifetime")
    }

    @Test func thePrecedingTokenWithinGraceGetsTheCurrentOne() {
        #expect(decide(4, session(), at: 100) == .reissueCurrent, "at the moment of rotation")
        #expect(decide(4, session(), at: 109.999) == .reissueCurrent)
    }

    @Test func thePrecedingTokenAfterGraceRevokesTheSession() {
        #expect(decide(4, session(), at: 110) == .revokeSession, "the grace interval is half-open")
        #expect(decide(4, session(), at: 500) == .revokeSession)
    }

    /// A later use that is not a rotation (a web-session cookie renewal) keeps the session alive but
    /// does not reopen the grace window of the preceding token.
    @Test func aRenewalThatIsNotARotationDoesNotReopenTheGraceWindow() {
        let renewed = session(lastRefreshed: 100, lastUsed: 500)
        #expect(decide(4, renewed, at: 501) == .revokeSession)
        #expect(decide(5, renewed, at: 501) == .rotate(newGeneration: 6))
        // ...while the idle lifetime does count from the renewal.
        #expect(decide(5, renewed, at: 1_200) == .rotate(newGeneration: 6))
        #expect(decide(5, renewed, at: 1_500) == .reject(.idleExpired))
    }

    @Test func aZeroGraceDisablesTheRule() {
        #expect(decide(4, session(), at: 100, grace: 0) == .revokeSession)
    }

    @Test func olderGenerationsRevokeTheSessionEvenWithinGrace() {
        for older: Int64 in [0, 1, 2, 3] {
            #expect(decide(older, session(), at: 101) == .revokeSession)
        }
    }

    @Test func aGenerationNeverIssuedRevokesTheSession() {
        #expect(decide(6, session(), at: 101) == .revokeSession)
        #expect(decide(Int64.max, session(), at: 101) == .revokeSession)
    }

    @Test func aRevokedSessionIsRejectedWhateverIsPresented() {
        for presented: Int64 in [3, 4, 5, 6] {
            #expect(decide(presented, session(revoked: true), at: 101) == .reject(.revoked))
        }
    }

    @Test func anIdleExpiredSessionIsRejected() {
        #expect(decide(5, session(), at: 1_100) == .reject(.idleExpired))
        #expect(decide(4, session(), at: 1_100) == .reject(.idleExpired), "not a replay: the session is simply over")
    }

    @Test func anAbsolutelyExpiredSessionIsRejectedEvenIfRecentlyUsed() {
        #expect(decide(5, session(lastRefreshed: 9_990), at: 10_000) == .reject(.absolutelyExpired))
        #expect(decide(5, session(lastRefreshed: 9_990), at: 9_999) == .rotate(newGeneration: 6))
    }

    @Test func aMissingSessionOrDeletedUserIsRejected() {
        #expect(decide(0, nil, at: 0) == .reject(.unknownSession))
    }

    @Test func rejectionsHaveDistinctMessages() {
        let reasons: [RefreshDecision.RejectReason] = [.unknownSession, .revoked, .idleExpired, .absolutelyExpired]
        #expect(Set(reasons.map(\.message)).count == reasons.count)
    }
}

/// A session bound to a DPoP key refuses any other key, or none, before anything else: whoever holds
/// a copied refresh token without the key can neither refresh nor get the session revoked.
@Suite struct BoundRefreshDecisionTests {
    let policy = SessionPolicy(idleLifetime: 1_000, absoluteLifetime: 10_000, reuseGrace: 10)
    let created = Date(timeIntervalSince1970: 1_800_000_000)

    func session(bound: String?) -> Session {
        Session(
            id: "s", userID: "u", deviceID: nil, platform: "ios", amr: ["device"], clientID: "c", createdAt: created,
            lastRefreshedAt: created.addingTimeInterval(100), generation: 5, absoluteExpiresAt: created.addingTimeInterval(10_000),
            revokedAt: nil, dpopThumbprint: bound)
    }

    func decide(_ presented: Int64, _ session: Session, key: String?, at seconds: TimeInterval = 101) -> RefreshDecision {
        RefreshDecision.decide(
            presentedGeneration: presented, session: session, now: created.addingTimeInterval(seconds), policy: policy,
            grace: policy.reuseGrace, presentedKey: key)
    }

    @Test func theBoundKeyRefreshesAsUsual() {
        #expect(decide(5, session(bound: "k"), key: "k") == .rotate(newGeneration: 6))
        #expect(decide(4, session(bound: "k"), key: "k", at: 105) == .reissueCurrent)
        #expect(decide(3, session(bound: "k"), key: "k") == .revokeSession, "the owner's replay still revokes")
    }

    @Test func withoutTheKeyNothingHappensWhateverTheGeneration() {
        for generation: Int64 in [5, 4, 3, 0, 99] {
            #expect(decide(generation, session(bound: "k"), key: nil) == .reject(.proofRequired), "generation \(generation)")
            #expect(decide(generation, session(bound: "k"), key: "other") == .reject(.wrongKey), "generation \(generation)")
        }
    }

    @Test func anUnboundSessionIgnoresAPresentedKey() {
        #expect(decide(5, session(bound: nil), key: "k") == .rotate(newGeneration: 6))
        #expect(decide(3, session(bound: nil), key: "k") == .revokeSession)
    }
}
