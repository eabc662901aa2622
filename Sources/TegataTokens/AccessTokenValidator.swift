import Foundation

/// The claim checks of RFC 9068 §4 that do not need keys: issuer, audience and times. Pure: the
/// caller passes `now`.
public struct AccessTokenValidator: Sendable {
    /// The exact expected `iss`.
    public var issuer: String
    /// The expected `aud`.
    public var audience: String
    /// Tolerated clock difference for `exp`, `nbf` and `iat`.
    public var leeway: TimeInterval

    /// Creates a validator.
    public init(issuer: String, audience: String, leeway: TimeInterval) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
    }

    /// Throws an ``AccessTokenError`` unless the claims are valid at `now`.
    public func validate(_ claims: AccessTokenClaims, now: Date) throws(AccessTokenError) {
        let now = now.timeIntervalSince1970
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud == audience else { throw .wrongAudience }
        guard Double(claims.exp) + leeway > now else { throw .expired }
        guard Double(claims.nbf) - leeway <= now else { throw .notYetValid }
        guard Double(claims.iat) - leeway <= now else { throw .issuedInFuture }
        guard !claims.sub.isEmpty, !claims.sid.isEmpty, !claims.jti.isEmpty else { throw .malformed }
    }
}
