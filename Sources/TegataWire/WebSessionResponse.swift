import Foundation

/// `GET /v1/session` (and `POST /v1/session`): the signed-in user and when the cookie expires.
public struct WebSessionResponse: Codable, Sendable, Equatable {
    /// The user, as `/v1/me` shows it.
    public var user: MeResponse
    /// When the cookie just set expires, unless renewed.
    public var expiresAt: Date

    /// Creates a response.
    public init(user: MeResponse, expiresAt: Date) {
        self.user = user
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case user
        case expiresAt = "expires_at"
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
