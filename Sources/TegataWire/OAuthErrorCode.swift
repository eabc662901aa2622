/// An error code of the Tegata HTTP API: the RFC 6749 §5.2 / RFC 6750 §3.1 codes plus Tegata's own.
///
/// These strings are frozen API: clients switch on them. Never rename one; add new ones only through
/// the contract.
public struct OAuthErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The code as it appears in the `error` field.
    public let rawValue: String

    /// Creates a code from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The wire form.
    public var description: String { rawValue }

    /// The request is malformed: missing or invalid parameter, bad JSON, wrong type.
    public static let invalidRequest = OAuthErrorCode(rawValue: "invalid_request")
    /// The grant (device secret, refresh token, …) is invalid, expired or revoked.
    public static let invalidGrant = OAuthErrorCode(rawValue: "invalid_grant")
    /// Client authentication failed.
    public static let invalidClient = OAuthErrorCode(rawValue: "invalid_client")
    /// The grant type is not supported.
    public static let unsupportedGrantType = OAuthErrorCode(rawValue: "unsupported_grant_type")
    /// The access token is missing, malformed, expired or revoked.
    public static let invalidToken = OAuthErrorCode(rawValue: "invalid_token")
    /// The access token lacks the privileges the request needs.
    public static let insufficientScope = OAuthErrorCode(rawValue: "insufficient_scope")
    /// The caller may not do this (403).
    public static let forbidden = OAuthErrorCode(rawValue: "forbidden")
    /// No such resource (404).
    public static let notFound = OAuthErrorCode(rawValue: "not_found")
    /// The request conflicts with the current state (409).
    public static let conflict = OAuthErrorCode(rawValue: "conflict")
    /// The request body is larger than the server accepts (413).
    public static let payloadTooLarge = OAuthErrorCode(rawValue: "payload_too_large")
    /// Too many requests (429, with `Retry-After`).
    public static let rateLimited = OAuthErrorCode(rawValue: "rate_limited")
    /// A DPoP proof (RFC 9449) is missing where one is required, malformed, for another request
    /// or key, too old, or used before.
    public static let invalidDPoPProof = OAuthErrorCode(rawValue: "invalid_dpop_proof")
    /// The DPoP proof must carry the server's current nonce (RFC 9449 §8), sent in the answer's
    /// `DPoP-Nonce` field: make a new proof with it and send the request again.
    public static let useDPoPNonce = OAuthErrorCode(rawValue: "use_dpop_nonce")
    /// The server failed; the request may be retried.
    public static let serverError = OAuthErrorCode(rawValue: "server_error")
}
