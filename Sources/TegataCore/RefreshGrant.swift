import Foundation
import TegataWire

/// The refresh-token grant: rotation, reuse detection and the grace rule (see ``RefreshDecision``).
public struct RefreshGrant: Sendable {
    /// Sessions live here.
    public let store: any SessionStore
    /// Makes the token response.
    public let issuer: TokenIssuer
    /// The clock.
    public let clock: any TegataClock
    /// The limits on refreshes per session and failed refreshes per address.
    public let limits: RateLimits

    /// Creates the grant.
    public init(store: any SessionStore, issuer: TokenIssuer, clock: any TegataClock, limits: RateLimits = .off) {
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.limits = limits
    }

    /// Exchanges a refresh token for a new token response. The session state the response describes
    /// is committed before this returns. Every refusal is `invalid_grant`; `rate_limited` (which
    /// ends nothing: the token stays good) when the session's refreshes or the address's failures
    /// are over their limit.
    public func refresh(_ refreshToken: String, origin: RequestOrigin = .unknown) async throws -> TokenResponse {
        let now = clock.now()
        let address = origin.addressKey
        if let address, let failures = limits.failedRefreshesPerAddress {
            try failures.check(address, now: now)
            do {
                return try await refresh(refreshToken, now: now)
            } catch let error as TegataError where error.code == .invalidGrant {
                failures.record(address, now: now)
                throw error
            }
        }
        return try await refresh(refreshToken, now: now)
    }

    private func refresh(_ refreshToken: String, now: Date) async throws -> TokenResponse {
        guard let token = RefreshToken.decode(refreshToken, with: issuer.secrets.refreshTokenKey) else {
            throw TegataError.invalidGrant("the refresh token is not valid")
        }
        try limits.refreshesPerSession?.take(token.sessionID.uuidString, now: now)
        let policy = issuer.policy.sessions
        let presented = token.generation
        let command = RefreshCommand(
            sessionID: token.sessionID.uuidString.lowercased(),
            decide: { session in
                RefreshDecision.decide(
                    presentedGeneration: presented, session: session, now: now, policy: policy, grace: policy.reuseGrace)
            },
            now: now,
            eventUntil: issuer.policy.revocationHorizon(from: now))
        switch try await store.refresh(command) {
        case .issued(let record, let session):
            return try await issuer.tokenResponse(for: record, session: session, now: now)
        case .revoked:
            throw TegataError.invalidGrant("the refresh token was already used; the session has been revoked")
        case .rejected(let reason):
            throw TegataError.invalidGrant(reason.message)
        }
    }
}
