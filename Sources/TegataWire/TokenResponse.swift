import Foundation

/// A successful token response (RFC 6749 §5.1) with Tegata's `refresh_expires_in` and `user`.
public struct TokenResponse: Codable, Sendable, Equatable {
    /// The access token, an RFC 9068 JWT.
    public var accessToken: String
    /// Always `Bearer`.
    public var tokenType: String
    /// Seconds until the access token expires.
    public var expiresIn: Int
    /// The opaque refresh token.
    public var refreshToken: String
    /// Seconds until the refresh token expires if it is not used (idle lifetime, capped by the absolute one).
    public var refreshExpiresIn: Int
    /// The signed-in user.
    public var user: UserSummary
    /// What `access_token` is, in a token-exchange response (RFC 8693 §2.2.1 requires it there):
    /// `urn:ietf:params:oauth:token-type:access_token`. Absent from other grants' responses.
    public var issuedTokenType: String?

    /// The `issued_token_type` of a token-exchange response.
    public static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

    /// Creates a token response.
    public init(
        accessToken: String, tokenType: String = "Bearer", expiresIn: Int,
        refreshToken: String, refreshExpiresIn: Int, user: UserSummary, issuedTokenType: String? = nil
    ) {
        self.issuedTokenType = issuedTokenType
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
        self.refreshExpiresIn = refreshExpiresIn
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
        case refreshExpiresIn = "refresh_expires_in"
        case user
        case issuedTokenType = "issued_token_type"
    }
}

/// The user as a token response describes it.
public struct UserSummary: Codable, Sendable, Equatable {
    /// The user id (the access token's `sub`).
    public var id: String
    /// True for an anonymous device-only user.
    public var anon: Bool
    /// When the user was created.
    public var createdAt: Date

    /// Creates a user summary.
    public init(id: String, anon: Bool, createdAt: Date) {
        self.id = id
        self.anon = anon
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, anon
        case createdAt = "created_at"
    }
}
