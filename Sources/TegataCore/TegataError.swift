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
        case missingToken
        case forbidden
        case notFound
        case conflict
        case payloadTooLarge
        case rateLimited(retryAfterSeconds: Int, policy: RateLimitPolicy?)
        case serverError
        case unavailable
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
        case .invalidToken, .missingToken: .invalidToken
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .payloadTooLarge
        case .rateLimited: .rateLimited
        case .serverError, .unavailable: .serverError
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
