import Foundation
import Synchronization

/// One rate limit: at most ``limit`` requests in any ``period``, the allowance refilling evenly
/// (one every `period / limit`), so a burst of `limit` is followed by a steady trickle rather than
/// a wall at a window's edge. This is the generic cell rate algorithm (GCRA): each key keeps one
/// number, its *theoretical arrival time* (TAT), the time at which its allowance would be whole again.
public struct RateLimitPolicy: Sendable, Equatable, CustomStringConvertible {
    /// The policy's name in `RateLimit-Policy` / `RateLimit` header fields, metrics and audit events.
    public var name: String
    /// Requests allowed in a burst, and per ``period``.
    public var limit: Int
    /// The window, in seconds.
    public var period: TimeInterval

    /// Creates a policy. `limit` ≥ 1, `period` > 0.
    public init(name: String, limit: Int, period: TimeInterval) {
        precondition(limit >= 1 && period > 0, "a rate limit needs a limit ≥ 1 and a period > 0")
        self.name = name
        self.limit = limit
        self.period = period
    }

    /// `name: limit/period`.
    public var description: String { "\(name): \(limit)/\(Int(period))s" }

    /// Milliseconds between two requests at the steady rate.
    var intervalMS: Double { period * 1000 / Double(limit) }
    /// The window in milliseconds.
    var periodMS: Double { period * 1000 }

    /// Takes one request from the allowance whose TAT is `tat` (milliseconds since 1970; nil: a
    /// key never seen, or whose record was pruned: a whole allowance). Pure: the stores keep the
    /// number and call this inside their transaction.
    public func take(tat: Double?, now: Date) -> RateLimitDecision {
        let now = now.timeIntervalSince1970 * 1000
        let next = max(tat ?? now, now) + intervalMS
        let used = next - now
        // A thousandth of a millisecond of slack for floating-point error: `limit` requests at one
        // instant use exactly the period.
        guard used <= periodMS + 0.001 else {
            return .limited(retryAfterSeconds: Self.seconds(used - periodMS))
        }
        return .allowed(tat: next, remaining: max(0, Int(((periodMS - used) / intervalMS + 0.001).rounded(.down))))
    }

    /// Whole seconds, rounded up, at least 1 (a client told to wait 0 s would retry at once).
    static func seconds(_ milliseconds: Double) -> Int {
        max(1, Int((milliseconds / 1000).rounded(.up)))
    }

    /// The rejection error for this policy.
    public func rejection(retryAfterSeconds: Int) -> TegataError {
        .rateLimited(RateLimitRejection(policy: self, retryAfterSeconds: retryAfterSeconds))
    }
}

/// What a rate limit decided.
public enum RateLimitDecision: Sendable, Equatable {
    /// Go ahead; the key's new TAT (to store) and the requests left in the current burst.
    case allowed(tat: Double, remaining: Int)
    /// Refused: one more request is allowed in this many seconds.
    case limited(retryAfterSeconds: Int)
}

/// A refused request: which policy, and when to come back. The edge writes `Retry-After`,
/// `RateLimit-Policy` and `RateLimit` from it.
public struct RateLimitRejection: Sendable, Equatable {
    /// The policy that refused.
    public var policy: RateLimitPolicy
    /// Seconds until one more request is allowed.
    public var retryAfterSeconds: Int

    /// Creates a rejection.
    public init(policy: RateLimitPolicy, retryAfterSeconds: Int) {
        self.policy = policy
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// A limit counted by one replica in its own memory, keyed by anything (an address, a device id, a
/// session id). Keys whose allowance is whole again are forgotten, so memory follows the keys seen
/// in the last ``RateLimitPolicy/period``; past ``maximumKeys`` new keys are not tracked (the limit
/// fails open for them rather than growing without bound; the per-address limits still hold).
public final class RateLimiter: Sendable {
    /// The policy.
    public let policy: RateLimitPolicy
    /// At most this many keys are remembered.
    public let maximumKeys: Int
    private let shards: [Shard]

    /// Creates a limiter.
    public init(policy: RateLimitPolicy, maximumKeys: Int = 1_000_000) {
        self.policy = policy
        self.maximumKeys = maximumKeys
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private static let shardCount = 16

    /// One lock's share of the keys (16 locks, so concurrent requests rarely wait on each other).
    private final class Shard: Sendable {
        let tats = Mutex<[String: Double]>([:])
        func withLock<R>(_ body: (inout [String: Double]) throws -> R) rethrows -> R { try tats.withLock { try body(&$0) } }
    }

    /// Takes one request for `key`; throws `rate_limited` when its allowance is spent.
    public func take(_ key: String, now: Date) throws(TegataError) {
        let decision = shard(for: key).withLock { tats -> RateLimitDecision in
            let decision = policy.take(tat: tats[key], now: now)
            if case .allowed(let tat, _) = decision { remember(key, tat, in: &tats, now: now) }
            return decision
        }
        try refuse(decision)
    }

    /// Throws `rate_limited` when one more request for `key` would be refused, taking nothing: the
    /// guard in front of an attempt whose failure is counted afterwards with ``take(_:now:)``.
    public func check(_ key: String, now: Date) throws(TegataError) {
        try refuse(shard(for: key).withLock { policy.take(tat: $0[key], now: now) })
    }

    /// Counts one request for `key` without refusing it (a failure, found after the attempt).
    public func record(_ key: String, now: Date) {
        shard(for: key).withLock { tats in
            if case .allowed(let tat, _) = policy.take(tat: tats[key], now: now) { remember(key, tat, in: &tats, now: now) }
        }
    }

    /// The number of keys remembered (for tests and metrics).
    public var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.count } } }

    private func refuse(_ decision: RateLimitDecision) throws(TegataError) {
        if case .limited(let seconds) = decision {
            throw policy.rejection(retryAfterSeconds: seconds)
        }
    }

    private func shard(for key: String) -> Shard {
        var hasher = Hasher()
        hasher.combine(key)
        return shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))]
    }

    private func remember(_ key: String, _ tat: Double, in tats: inout [String: Double], now: Date) {
        let capacity = maximumKeys / Self.shardCount
        if tats[key] == nil, tats.count >= capacity {
            // Forget keys whose allowance is whole again: the same as never seen.
            let whole = now.timeIntervalSince1970 * 1000
            tats = tats.filter { $0.value > whole }
            guard tats.count < capacity else { return }
        }
        tats[key] = tat
    }
}

/// Which limits apply where (``TegataServices`` builds them from configuration). A nil limit is off.
public struct RateLimits: Sendable {
    /// New device registrations per client address, counted in the store so every replica shares them.
    public var registrationsPerAddress: RateLimitPolicy?
    /// Failed device sign-ins (wrong secret) per client address.
    public var failedSignInsPerAddress: RateLimiter?
    /// Device sign-in attempts per device id.
    public var signInsPerDevice: RateLimiter?
    /// Failed refreshes (an invalid, spent or ended refresh token) per client address.
    public var failedRefreshesPerAddress: RateLimiter?
    /// Refreshes per session.
    public var refreshesPerSession: RateLimiter?
    /// Token exchanges per client address.
    public var exchangesPerAddress: RateLimiter?
    /// Token exchanges per external identity (provider and subject).
    public var exchangesPerSubject: RateLimiter?
    /// Legacy device claims per client address, every attempt counted.
    public var claimsPerAddress: RateLimiter?
    /// Every limit off.
    public static let off = RateLimits()

    /// Creates a set of limits; each nil one is off.
    public init(
        registrationsPerAddress: RateLimitPolicy? = nil, failedSignInsPerAddress: RateLimiter? = nil,
        signInsPerDevice: RateLimiter? = nil, failedRefreshesPerAddress: RateLimiter? = nil,
        refreshesPerSession: RateLimiter? = nil, exchangesPerAddress: RateLimiter? = nil,
        exchangesPerSubject: RateLimiter? = nil, claimsPerAddress: RateLimiter? = nil
    ) {
        self.claimsPerAddress = claimsPerAddress
        self.registrationsPerAddress = registrationsPerAddress
        self.failedSignInsPerAddress = failedSignInsPerAddress
        self.signInsPerDevice = signInsPerDevice
        self.failedRefreshesPerAddress = failedRefreshesPerAddress
        self.refreshesPerSession = refreshesPerSession
        self.exchangesPerAddress = exchangesPerAddress
        self.exchangesPerSubject = exchangesPerSubject
    }
}

/// Where a request came from, as far as the core needs to know: the key of the client's address
/// for per-address limits (an IPv4 address, or an IPv6 address's /64 network), or nil when unknown.
public struct RequestOrigin: Sendable, Equatable {
    /// The client address's rate-limit key; nil: no per-address limit applies.
    public var addressKey: String?
    /// The client's address as text, for audit events.
    public var address: String?
    /// The request's id, for audit events.
    public var requestID: String?

    /// Creates an origin.
    public init(addressKey: String?, address: String? = nil, requestID: String? = nil) {
        self.addressKey = addressKey
        self.address = address
        self.requestID = requestID
    }

    /// An origin without an address (in-process callers, tests).
    public static let unknown = RequestOrigin(addressKey: nil)
}

/// A limit the store applies inside the transaction whose effect it guards (the registration of a
/// new device): shared by every replica of one database, and nothing is created when it refuses.
public struct SharedRateLimit: Sendable, Equatable {
    /// The policy.
    public var policy: RateLimitPolicy
    /// The counter's key, e.g. `registrations:192.0.2.1`.
    public var bucket: String

    /// Creates a shared limit.
    public init(policy: RateLimitPolicy, bucket: String) {
        self.policy = policy
        self.bucket = bucket
    }
}
