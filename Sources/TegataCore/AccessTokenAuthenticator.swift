import Foundation
import TegataTokens

/// Checks a presented access token for Tegata's own endpoints: signature and header (key ring),
/// claims (validator, injected clock) and that its session is still live — so a revoked session,
/// a moved token version or a deleted user kills the token at once, not at `exp`.
public struct AccessTokenAuthenticator: Sendable {
    /// Verifies signatures (with the keys published at the time).
    public let keys: ServerKeys
    /// Checks claims.
    public let validator: AccessTokenValidator
    /// Looks sessions up.
    public let store: any SessionStore
    /// Session lifetimes.
    public let sessionPolicy: SessionPolicy
    /// The clock.
    public let clock: any TegataClock
    /// Tokens whose signature was already verified.
    public let cache: VerifiedTokenCache

    /// Creates an authenticator.
    public init(
        keys: ServerKeys, policy: TokenPolicy, store: any SessionStore, clock: any TegataClock,
        cache: VerifiedTokenCache = VerifiedTokenCache(capacity: 0)
    ) {
        self.keys = keys
        self.cache = cache
        self.validator = AccessTokenValidator(issuer: policy.issuer, audience: policy.audience, leeway: policy.leeway)
        self.store = store
        self.sessionPolicy = policy.sessions
        self.clock = clock
    }

    /// The verified claims and the live session (with the user record when `withUser` is true: one
    /// store read for both), or `invalid_token`.
    public func authenticate(
        _ token: String, withUser: Bool = false
    ) async throws -> (claims: AccessTokenClaims, session: Session, user: UserRecord?) {
        let claims: AccessTokenClaims
        do {
            if let cached = cache.claims(for: token) {
                claims = cached
            } else {
                let now = clock.now()
                var verified = Result { () throws(AccessTokenError) in try keys.ring(at: now).verifySignature(token) }
                // Perhaps a key another replica rotated in a moment ago: learn it from the store.
                if case .failure(.unknownKey) = verified, await keys.reloadForUnknownKey(now: now) {
                    verified = Result { () throws(AccessTokenError) in try keys.ring(at: now).verifySignature(token) }
                }
                claims = try verified.get()
                cache.insert(token, claims: claims, now: now)
            }
            try validator.validate(claims, now: clock.now())
        } catch {
            throw TegataError.invalidToken(error.description)
        }
        guard let state = try await store.authState(sessionID: claims.sid, jti: claims.jti, withUser: withUser),
              state.session.userID == claims.sub,
              state.session.isLive(at: clock.now(), policy: sessionPolicy)
        else { throw TegataError.invalidToken("the session of this access token has ended") }
        guard state.userTokenVersion == claims.tv, !state.tokenRevoked else {
            throw TegataError.invalidToken("the access token was revoked")
        }
        return (claims, state.session, state.user)
    }
}
