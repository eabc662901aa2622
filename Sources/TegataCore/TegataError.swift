import TegataWire

/// A domain error. It knows its frozen API code and a human text, never an HTTP status: the server
/// maps it once, at the edge. Texts never contain a token or a secret.
public struct TegataError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable, Sendable {
        case invalidRequest
        case unsupportedMediaType
        case methodNotAllowed(allowed: [String])
        case invalidGrant
        case wrongCredentials
        case invalidClient
        case unsupportedGrantType
        case invalidToken
        case tokenSchemeMismatch
        case missingToken
        case forbidden
        case notFound
        case conflict
        case payloadTooLarge
        case rateLimited(retryAfterSeconds: Int, policy: RateLimitPolicy?)
        case serverError
        case unavailable
        case invalidDPoPProof(atResource: Bool)
        case useDPoPNonce(nonce: String, atResource: Bool)
    }

    private let kind: Kind
    /// The human-readable explanation, safe to send to the client.
    public let message: String

    private init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// A malformed request: missing or invalid field, bad JSON, wrong type.
    public static func invalidRequest(_ message: String) -> TegataError { .init(.invalidRequest, message) }
    /// A body of a media type the endpoint does not take (415, code `invalid_request`).
    public static func unsupportedMediaType(_ message: String) -> TegataError { .init(.unsupportedMediaType, message) }
    /// A method the path does not serve (405 with `Allow`, code `invalid_request`).
    public static func methodNotAllowed(allowed: [String]) -> TegataError {
        .init(.methodNotAllowed(allowed: allowed), "this path serves only \(allowed.joined(separator: ", "))")
    }
    /// An invalid, expired or revoked grant (wrong device secret, spent refresh token, …).
    public static func invalidGrant(_ message: String) -> TegataError { .init(.invalidGrant, message) }
    /// Credentials that identify a known party did not match (a wrong device secret). Code
    /// `invalid_grant`, but the request was an authentication attempt, so the edge answers 401.
    public static func wrongCredentials(_ message: String) -> TegataError { .init(.wrongCredentials, message) }
    /// Client authentication failed.
    public static func invalidClient(_ message: String) -> TegataError { .init(.invalidClient, message) }
    /// The grant type is not supported.
    public static func unsupportedGrantType(_ message: String) -> TegataError { .init(.unsupportedGrantType, message) }
    /// A bad access token (malformed, expired, revoked, …).
    public static func invalidToken(_ message: String) -> TegataError { .init(.invalidToken, message) }
    /// An access token presented with the wrong scheme: a DPoP-bound one as `Bearer`, or an unbound
    /// one as `DPoP` (code `invalid_token`; the edge challenges with both schemes).
    public static func tokenSchemeMismatch(_ message: String) -> TegataError { .init(.tokenSchemeMismatch, message) }
    /// True for ``tokenSchemeMismatch(_:)``.
    public var isSchemeMismatch: Bool { kind == .tokenSchemeMismatch }
    /// No access token was presented.
    public static let missingToken = TegataError(.missingToken, "an access token is required")
    /// The caller may not do this.
    public static func forbidden(_ message: String) -> TegataError { .init(.forbidden, message) }
    /// No such resource.
    public static func notFound(_ message: String) -> TegataError { .init(.notFound, message) }
    /// The request conflicts with the current state.
    public static func conflict(_ message: String) -> TegataError { .init(.conflict, message) }
    /// The request body exceeds the limit.
    public static func payloadTooLarge(limit: Int? = nil) -> TegataError {
        .init(.payloadTooLarge, limit.map { "the request body exceeds \($0) bytes" } ?? "the request body is too large")
    }
    /// Too many requests; retry after the given number of seconds.
    public static func rateLimited(retryAfterSeconds: Int) -> TegataError {
        .init(.rateLimited(retryAfterSeconds: retryAfterSeconds, policy: nil), "too many requests")
    }
    /// Refused by one of Tegata's rate limits (the text names the policy, never the key).
    public static func rateLimited(_ rejection: RateLimitRejection) -> TegataError {
        .init(
            .rateLimited(retryAfterSeconds: rejection.retryAfterSeconds, policy: rejection.policy),
            "too many requests (\(rejection.policy.name)); retry in \(rejection.retryAfterSeconds) s")
    }
    /// An internal failure. The message is generic on purpose: details go to the log, not the client.
    public static let serverError = TegataError(.serverError, "the server failed to handle the request")

    /// A refused DPoP proof (RFC 9449): missing where required, malformed, for another request or
    /// key, too old, or used before. `atResource`: presented with an access token (the edge answers
    /// 401 with a `DPoP` challenge), not at the token endpoint (400).
    public static func invalidDPoPProof(_ message: String, atResource: Bool = false) -> TegataError {
        .init(.invalidDPoPProof(atResource: atResource), message)
    }
    /// The proof must carry the server's current nonce, `nonce` (sent as `DPoP-Nonce`).
    public static func useDPoPNonce(_ nonce: String, atResource: Bool = false) -> TegataError {
        .init(
            .useDPoPNonce(nonce: nonce, atResource: atResource),
            "make a new DPoP proof with the nonce of the DPoP-Nonce header field and send the request again")
    }

    /// The nonce to send as `DPoP-Nonce`, for ``useDPoPNonce(_:atResource:)``.
    public var dpopNonce: String? {
        if case .useDPoPNonce(let nonce, _) = kind { return nonce }
        return nil
    }

    /// True for a DPoP refusal of a request that presented an access token (401 with a `DPoP` challenge).
    public var isDPoPRefusalAtResource: Bool {
        switch kind {
        case .invalidDPoPProof(let atResource), .useDPoPNonce(_, let atResource): atResource
        default: false
        }
    }

    /// A dependency (the database, the keys) is not available; the request may be retried later.
    public static func serviceUnavailable(_ message: String) -> TegataError { .init(.unavailable, message) }

    /// True for ``serviceUnavailable(_:)``: the edge answers 503.
    public var isUnavailable: Bool { kind == .unavailable }

    /// The frozen API error code.
    public var code: OAuthErrorCode {
        switch kind {
        case .invalidRequest, .unsupportedMediaType, .methodNotAllowed: .invalidRequest
        case .invalidGrant, .wrongCredentials: .invalidGrant
        case .invalidClient: .invalidClient
        case .unsupportedGrantType: .unsupportedGrantType
        case .invalidToken, .missingToken, .tokenSchemeMismatch: .invalidToken
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .payloadTooLarge
        case .rateLimited: .rateLimited
        case .serverError, .unavailable: .serverError
        case .invalidDPoPProof: .invalidDPoPProof
        case .useDPoPNonce: .useDPoPNonce
        }
    }

    /// True when presented credentials of a known party did not match (see ``wrongCredentials(_:)``).
    public var isWrongCredentials: Bool { kind == .wrongCredentials }

    /// True when no credentials were presented at all (RFC 6750 §3.1: the challenge then carries no error).
    public var isMissingCredentials: Bool { kind == .missingToken }

    /// True for ``unsupportedMediaType(_:)``: the edge answers 415.
    public var isUnsupportedMediaType: Bool { kind == .unsupportedMediaType }

    /// The methods the path serves, for ``methodNotAllowed(allowed:)``: the edge answers 405 with `Allow`.
    public var allowedMethods: [String]? {
        if case .methodNotAllowed(let allowed) = kind { return allowed }
        return nil
    }

    /// Seconds a client should wait before retrying, for ``rateLimited(retryAfterSeconds:)``.
    public var retryAfterSeconds: Int? {
        if case .rateLimited(let seconds, _) = kind { return seconds }
        return nil
    }

    /// The rate limit that refused the request, for a rejection by one of Tegata's limits.
    public var rateLimitPolicy: RateLimitPolicy? {
        if case .rateLimited(_, let policy) = kind { return policy }
        return nil
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
