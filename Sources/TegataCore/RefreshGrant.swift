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

    /// Creates the grant.
    public init(store: any SessionStore, issuer: TokenIssuer, clock: any TegataClock) {
        self.store = store
        self.issuer = issuer
        self.clock = clock
    }

    /// Exchanges a refresh token for a new token response. The session state the response describes
    /// is committed before this returns. Every refusal is `invalid_grant`.
    public func refresh(_ refreshToken: String) async throws -> TokenResponse {
        guard let token = RefreshToken.decode(refreshToken, with: issuer.secrets.refreshTokenKey) else {
            throw TegataError.invalidGrant("the refresh token is not valid")
        }
        let now = clock.now()
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
