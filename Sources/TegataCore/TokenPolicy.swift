import Foundation

/// What the server puts in and expects of its tokens.
public struct TokenPolicy: Sendable, Equatable {
    /// The issuer (`iss`), the server's public base URL.
    public var issuer: String
    /// The audience (`aud`) of access tokens.
    public var audience: String
    /// The `client_id` claim for sessions opened without a registered client.
    public var clientID: String
    /// Access-token lifetime.
    public var accessTokenLifetime: TimeInterval
    /// Tolerated clock difference for `exp`, `nbf` and `iat`.
    public var leeway: TimeInterval
    /// Session lifetimes.
    public var sessions: SessionPolicy

    /// How long a revocation must be remembered: until the longest access token issued before it
    /// has expired, leeway included.
    public func revocationHorizon(from now: Date) -> Date {
        now.addingTimeInterval(accessTokenLifetime + leeway)
    }

    /// Creates a policy.
    public init(
        issuer: String, audience: String, clientID: String, accessTokenLifetime: TimeInterval = 900,
        leeway: TimeInterval = 30, sessions: SessionPolicy = SessionPolicy()
    ) {
        self.issuer = issuer
        self.audience = audience
        self.clientID = clientID
        self.accessTokenLifetime = accessTokenLifetime
        self.leeway = leeway
        self.sessions = sessions
    }
}
