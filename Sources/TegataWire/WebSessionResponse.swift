import Foundation

/// `GET /v1/session` (and `POST /v1/session`): the signed-in user, when the cookie expires, and a
/// short-lived access token of the session for the page's own APIs.
public struct WebSessionResponse: Codable, Sendable, Equatable {
    /// The user, as `/v1/me` shows it.
    public var user: MeResponse
    /// When the cookie just set expires, unless renewed.
    public var expiresAt: Date
    /// An access token of the cookie's session (never a refresh token): kept in the page's memory
    /// only, sent as a bearer to the app's own APIs.
    public var accessToken: String
    /// Its lifetime in seconds.
    public var expiresIn: Int
    /// Always `Bearer`.
    public var tokenType: String

    /// Creates a response.
    public init(user: MeResponse, expiresAt: Date, accessToken: String, expiresIn: Int) {
        self.user = user
        self.expiresAt = expiresAt
        self.accessToken = accessToken
        self.expiresIn = expiresIn
        tokenType = "Bearer"
    }

    enum CodingKeys: String, CodingKey {
        case user
        case expiresAt = "expires_at"
        case accessToken = "access_token"
        case expiresIn = "expires_in"
        case tokenType = "token_type"
    }
}

/// `POST /v1/realtime/token` and `POST /v1/realtime/subscription-token`.
public struct RealtimeTokenResponse: Codable, Sendable, Equatable {
    /// The Centrifugo JWT.
    public var token: String
    /// Seconds until it expires.
    public var expiresIn: Int

    /// Creates a response.
    public init(token: String, expiresIn: Int) {
        self.token = token
        self.expiresIn = expiresIn
    }

    enum CodingKeys: String, CodingKey {
        case token
        case expiresIn = "expires_in"
    }
}

/// `POST /v1/realtime/subscription-token`'s body.
public struct SubscriptionTokenRequest: Codable, Sendable, Equatable {
    /// The channel.
    public var channel: String

    /// Creates a request.
    public init(channel: String) {
        self.channel = channel
    }
}
