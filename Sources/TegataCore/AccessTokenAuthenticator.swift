import Foundation
import TegataTokens
import TegataWire

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
    /// Checks the proofs that come with DPoP-bound tokens; nil: DPoP-bound tokens are refused.
    public let dpop: DPoPChecker?

    /// Creates an authenticator.
    public init(
        keys: ServerKeys, policy: TokenPolicy, store: any SessionStore, clock: any TegataClock,
        cache: VerifiedTokenCache = VerifiedTokenCache(capacity: 0), dpop: DPoPChecker? = nil
    ) {
        self.dpop = dpop
        self.keys = keys
        self.cache = cache
        self.validator = AccessTokenValidator(issuer: policy.issuer, audience: policy.audience, leeway: policy.leeway)
        self.store = store
        self.sessionPolicy = policy.sessions
        self.clock = clock
    }

    /// Authenticates a request's access token: ``authenticate(_:withUser:)``, and the DPoP rules
    /// (RFC 9449 §7): a token bound to a key (`cnf.jkt`) only as `Authorization: DPoP` with a valid
    /// proof by that key for this request and this token (`invalid_dpop_proof`, or
    /// `use_dpop_nonce`); an unbound token only as `Bearer`; anything else `invalid_token`.
    public func authenticate(
        _ presented: PresentedAccessToken, withUser: Bool = false
    ) async throws -> (claims: AccessTokenClaims, session: Session, user: UserRecord?) {
        let result = try await authenticate(presented.token, withUser: withUser)
        switch (result.claims.cnf, presented.scheme) {
        case (nil, .bearer):
            return result
        case (nil, .dpop):
            throw TegataError.tokenSchemeMismatch("this access token is not bound to a DPoP key: present it as Authorization: Bearer")
        case (.some, .bearer):
            throw TegataError.tokenSchemeMismatch("this access token is bound to a DPoP key: present it as Authorization: DPoP with a DPoP proof")
        case (.some(let confirmation), .dpop):
            guard let dpop else { throw TegataError.invalidToken("this server does not accept DPoP-bound access tokens") }
            guard let proof = presented.proof else {
                throw TegataError.invalidDPoPProof("a DPoP-bound access token needs a DPoP proof in the DPoP header field", atResource: true)
            }
            _ = try await dpop.verify(proof, accessToken: presented.token, boundTo: confirmation.jkt)
            return result
        }
    }

    /// The verified claims and the live session (with the user record when `withUser` is true: one
    /// store read for both), or `invalid_token`. The token alone, whatever it is bound to: for a
    /// request, ``authenticate(_:withUser:)-(PresentedAccessToken,_)``.
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

/// An access token as a request presented it: its `Authorization` scheme and, for `DPoP`, the
/// request's proof.
public struct PresentedAccessToken: Sendable, Equatable {
    /// How the token came.
    public enum Scheme: Sendable, Equatable {
        /// `Authorization: Bearer`.
        case bearer
        /// `Authorization: DPoP`.
        case dpop
    }

    /// The access token.
    public var token: String
    /// Its scheme.
    public var scheme: Scheme
    /// The request's `DPoP` proof with the request it must match, if there was one.
    public var proof: DPoPRequest?

    /// A presented token.
    public init(token: String, scheme: Scheme, proof: DPoPRequest? = nil) {
        self.token = token
        self.scheme = scheme
        self.proof = proof
    }

    /// A bearer token.
    public static func bearer(_ token: String) -> PresentedAccessToken { PresentedAccessToken(token: token, scheme: .bearer) }
}
