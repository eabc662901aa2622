import Foundation
import TegataCore
import TegataWire
import Testing

@Suite struct RateLimitPolicyTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let policy = RateLimitPolicy(name: "test", limit: 4, period: 60)

    @Test func aBurstOfTheLimitPassesThenOneEveryInterval() {
        var tat: Double?
        var remaining: [Int] = []
        for _ in 0..<4 {
            guard case .allowed(let next, let left) = Self.policy.take(tat: tat, now: Self.start) else {
                Issue.record("within the burst"); return
            }
            tat = next
            remaining.append(left)
        }
        #expect(remaining == [3, 2, 1, 0])
        #expect(Self.policy.take(tat: tat, now: Self.start) == .limited(retryAfterSeconds: 15))
        #expect(Self.policy.take(tat: tat, now: Self.start.addingTimeInterval(14)) == .limited(retryAfterSeconds: 1))
        guard case .allowed(let next, 0) = Self.policy.take(tat: tat, now: Self.start.addingTimeInterval(15)) else {
            Issue.record("one interval later, one more"); return
        }
        #expect(Self.policy.take(tat: next, now: Self.start.addingTimeInterval(15)) == .limited(retryAfterSeconds: 15))
        // After a whole period of quiet the whole burst is back.
        guard case .allowed(_, 3) = Self.policy.take(tat: next, now: Self.start.addingTimeInterval(75)) else {
            Issue.record("a whole period later, the whole burst"); return
        }
    }

    @Test func limitsThatDoNotDivideThePeriodStillAllowTheWholeBurst() {
        // 7 per 10 minutes: the interval is not a whole number of milliseconds.
        let policy = RateLimitPolicy(name: "odd", limit: 7, period: 600)
        var tat: Double?
        for index in 0..<7 {
            guard case .allowed(let next, let left) = policy.take(tat: tat, now: Self.start), left == 6 - index else {
                Issue.record("request \(index) is within the burst"); return
            }
            tat = next
        }
        #expect(policy.take(tat: tat, now: Self.start) == .limited(retryAfterSeconds: 86))
    }

    @Test func aLimiterCountsEachKeyApartAndCheckTakesNothing() throws {
        let limiter = RateLimiter(policy: RateLimitPolicy(name: "failures", limit: 2, period: 60))
        let now = Self.start
        try limiter.check("a", now: now)
        try limiter.check("a", now: now)
        limiter.record("a", now: now)
        limiter.record("a", now: now)
        limiter.record("a", now: now)  // past the limit: counted as nothing more
        let error = #expect(throws: TegataError.self) { try limiter.check("a", now: now) }
        #expect(error?.code == .rateLimited && error?.retryAfterSeconds == 30 && error?.rateLimitPolicy?.name == "failures")
        #expect(error?.message.contains("failures") == true)
        try limiter.take("b", now: now)
        try limiter.check("a", now: now.addingTimeInterval(30))
    }

    @Test func aFullLimiterForgetsWholeKeysAndThenFailsOpenRatherThanGrow() throws {
        let limiter = RateLimiter(policy: RateLimitPolicy(name: "keys", limit: 1, period: 10), maximumKeys: 16 * 4)
        for index in 0..<400 { try? limiter.take("key-\(index)", now: Self.start) }
        #expect(limiter.count <= 64)
        // Ten seconds on, every key is whole again, so the old ones are swept for new ones.
        for index in 0..<400 { try limiter.take("new-\(index)", now: Self.start.addingTimeInterval(10)) }
        #expect(limiter.count <= 64 && limiter.count > 0)
    }
}
