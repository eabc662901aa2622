import Foundation
import TegataCore

/// Tegata's rate limits, each named as in its `RateLimit-Policy` header field, its metric label and
/// its configuration key (`TEGATA_RATE_LIMIT_<NAME>`, e.g. `TEGATA_RATE_LIMIT_REGISTRATIONS=60/10m`).
public enum RateLimitName: String, CaseIterable, Sendable, Hashable {
    /// New device registrations (a device id never seen) per client address; shared by every
    /// replica through the database.
    case registrations
    /// Failed device sign-ins (a wrong secret) per client address.
    case failedSignIns = "failed-sign-ins"
    /// Device sign-in attempts per device id.
    case deviceSignIns = "device-sign-ins"
    /// Failed refreshes (an invalid, spent, expired or revoked refresh token) per client address.
    case failedRefreshes = "failed-refreshes"
    /// Refreshes per session.
    case sessionRefreshes = "session-refreshes"
    /// Token exchanges per client address.
    case exchanges
    /// Token exchanges per external identity (provider and subject).
    case exchangeSubjects = "exchange-subjects"
    /// Legacy device claims per client address, every attempt counted.
    case deviceClaims = "device-claims"
    /// Admin API requests per client address.
    case admin
    /// Payment webhook requests per client address.
    case webhooks

    /// The configuration key: `rate_limit_failed_sign_ins`.
    public var key: String { "rate_limit_" + rawValue.replacingOccurrences(of: "-", with: "_") }

    /// The default: generous enough for many players behind one carrier-grade NAT address, tight
    /// enough to stop a script (see docs/operations.md for the reasoning of each).
    public var defaultPolicy: RateLimitPolicy {
        switch self {
        case .registrations: policy(60, per: 600)
        case .failedSignIns: policy(60, per: 600)
        case .deviceSignIns: policy(30, per: 600)
        case .failedRefreshes: policy(120, per: 600)
        case .sessionRefreshes: policy(30, per: 600)
        case .exchanges: policy(300, per: 600)
        case .exchangeSubjects: policy(20, per: 600)
        case .deviceClaims: policy(60, per: 600)
        case .admin: policy(600, per: 60)
        case .webhooks: policy(1200, per: 60)
        }
    }

    /// True for the limit counted in the database (every replica shares it); the others are
    /// counted by each replica in its memory.
    public var isShared: Bool { self == .registrations }

    /// A policy of this name.
    public func policy(_ limit: Int, per period: TimeInterval) -> RateLimitPolicy {
        RateLimitPolicy(name: rawValue, limit: limit, period: period)
    }
}

/// Which rate limits are on, and at what levels (`TEGATA_RATE_LIMIT_ENABLED` and one key per limit).
public struct RateLimitSettings: Sendable, Equatable {
    /// False turns every limit off (`TEGATA_RATE_LIMIT_ENABLED=false`: benchmarks, test harnesses).
    public var enabled = true
    /// Limits set by the operator; nil for one turned off (`off`). Others have their default.
    public var overrides: [RateLimitName: RateLimitPolicy?] = [:]

    /// Creates the default settings: every limit on at its default.
    public init() {}

    /// The policy in force for `name`, nil when off.
    public func policy(_ name: RateLimitName) -> RateLimitPolicy? {
        guard enabled else { return nil }
        if let override = overrides[name] { return override }
        return name.defaultPolicy
    }

    /// Parses `60/10m` (a count, a slash, a duration) or `off`.
    static func parse(_ text: String, name: RateLimitName) -> RateLimitPolicy?? {
        if text.lowercased() == "off" { return .some(nil) }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let limit = Int(parts[0].trimmingCharacters(in: .whitespaces)), (1...1_000_000).contains(limit),
              let period = TegataConfiguration.parseDuration(parts[1].trimmingCharacters(in: .whitespaces)),
              (1...86_400).contains(period)
        else { return nil }
        return .some(name.policy(limit, per: period))
    }
}
