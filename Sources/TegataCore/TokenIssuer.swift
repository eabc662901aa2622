import Foundation
import TegataTokens
import TegataWire

/// Makes token responses: signs the access token and recomputes the session's current refresh token.
public struct TokenIssuer: Sendable {
    /// The signing keys.
    public let keys: ServerKeys
    /// The server secrets (refresh-token MAC key).
    public let secrets: ServerSecrets
    /// Token contents and lifetimes.
    public let policy: TokenPolicy

    /// Creates an issuer.
    public init(keys: ServerKeys, secrets: ServerSecrets, policy: TokenPolicy) {
        self.keys = keys
        self.secrets = secrets
        self.policy = policy
    }

    /// The claims of a new access token for `session` of `record` at `now`, living `lifetime`
    /// seconds (the configured access-token lifetime unless given), bound to the DPoP key of
    /// thumbprint `dpopKey` when one is given.
    public func claims(
        for record: UserRecord, session: Session, now: Date, lifetime: TimeInterval? = nil, dpopKey: String? = nil
    ) -> AccessTokenClaims {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        let ent = Entitlement.claim(from: record.entitlements, at: now)
        return AccessTokenClaims(
            iss: policy.issuer, sub: record.user.id, aud: policy.audience,
            exp: issuedAt + Int64(lifetime ?? policy.accessTokenLifetime), nbf: issuedAt, iat: issuedAt,
            jti: RandomID.uuid(), sid: session.id, clientID: session.clientID, amr: session.amr,
            anon: record.user.anon, tv: record.user.tokenVersion, ent: ent.isEmpty ? nil : ent,
            cnf: dpopKey.map(Confirmation.init(jkt:)),
            app: session.hookClaims.isEmpty ? record.appClaims : record.appClaims.merging(session.hookClaims) { $1 })
    }

    /// The session's current refresh token.
    public func refreshToken(for session: Session) throws -> String {
        guard let uuid = UUID(uuidString: session.id) else { throw TegataError.serverError }
        return RefreshToken(sessionID: uuid, generation: session.generation).encode(with: secrets.refreshTokenKey)
    }

    /// A signed access token alone (no refresh token) for `session` of `record`, living `lifetime`
    /// seconds: the page token of a cookie session. Returns it with its `expires_in`.
    public func accessToken(for record: UserRecord, session: Session, now: Date, lifetime: TimeInterval) throws -> (token: String, expiresIn: Int) {
        let claims = claims(for: record, session: session, now: now, lifetime: lifetime)
        return (try keys.ring(at: now).sign(claims), Int(claims.exp - claims.iat))
    }

    /// A full token response for `session` of `record` at `now`. Its access token is bound to the
    /// DPoP key `dpopKey` (or the session's own, if it is bound), with `token_type` `DPoP`.
    public func tokenResponse(
        for record: UserRecord, session: Session, now: Date, dpopKey: String? = nil
    ) async throws -> TokenResponse {
        let key = dpopKey ?? session.dpopThumbprint
        let claims = claims(for: record, session: session, now: now, dpopKey: key)
        let accessToken = try keys.ring(at: now).sign(claims)
        let refreshExpiresIn = session.refreshExpiry(policy: policy.sessions).timeIntervalSince(now)
        return TokenResponse(
            accessToken: accessToken, tokenType: key == nil ? "Bearer" : "DPoP", expiresIn: Int(claims.exp - claims.iat),
            refreshToken: try refreshToken(for: session), refreshExpiresIn: max(0, Int(refreshExpiresIn)),
            user: record.user.summary)
    }
}
