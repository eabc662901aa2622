/// The JSON body of every error response: `{"error": "<code>", "error_description": "<human text>"}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    /// The frozen error code.
    public var error: OAuthErrorCode
    /// A human-readable explanation. Never contains a token or a secret.
    public var errorDescription: String?

    /// Creates an error body.
    public init(error: OAuthErrorCode, errorDescription: String?) {
        self.error = error
        self.errorDescription = errorDescription
    }

    enum CodingKeys: String, CodingKey {
        case error
        case errorDescription = "error_description"
    }
}
