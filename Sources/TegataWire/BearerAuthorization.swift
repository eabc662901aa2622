/// The access-token credentials of a request's `Authorization` header fields: `Bearer` (RFC 6750
/// §2.1) or `DPoP` (RFC 9449 §7.1), read one way by the server and by the verifier's middleware.
/// Never from the query string or the body.
public enum BearerAuthorization: Equatable, Sendable {
    /// No `Authorization` field.
    case absent
    /// One `Authorization: Bearer <token>` field; the token without the optional whitespace around it.
    case token(String)
    /// One `Authorization: DPoP <token>` field (a DPoP-bound access token, with its proof in the
    /// `DPoP` field); the token without the optional whitespace around it.
    case dpop(String)
    /// One `Authorization` field of another scheme (`Basic …`), or `Bearer`/`DPoP` without a token.
    case otherScheme
    /// `Bearer` or `DPoP` and something that cannot be a token (longer than ``maximumTokenLength``).
    case malformed
    /// More than one `Authorization` field: RFC 6750 §3.1 `invalid_request`.
    case repeated

    /// The longest token read; a longer one is ``malformed`` without being looked at.
    public static let maximumTokenLength = 8 * 1024

    /// Reads the values of every `Authorization` field of a request.
    public init(fieldValues: [String]) {
        guard let value = fieldValues.first else {
            self = .absent
            return
        }
        guard fieldValues.count == 1 else {
            self = .repeated
            return
        }
        // `Bearer` (any case), whitespace, the token with optional whitespace around it (RFC 9110
        // §5.6.3). Done on bytes: this is on every authenticated request.
        let isWhitespace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let bytes = value.utf8
        guard let start = bytes.firstIndex(where: { !isWhitespace($0) }) else {
            self = .otherScheme
            return
        }
        let scheme = bytes[start...].prefix { !isWhitespace($0) }
        let isDPoP: Bool
        if scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ ($0 | 0x20) == $1 }) {
            isDPoP = false
        } else if scheme.count == 4, zip(scheme, "dpop".utf8).allSatisfy({ ($0 | 0x20) == $1 }) {
            isDPoP = true
        } else {
            self = .otherScheme
            return
        }
        let rest = bytes[scheme.endIndex...]
        guard let first = rest.firstIndex(where: { !isWhitespace($0) }), let last = rest.lastIndex(where: { !isWhitespace($0) })
        else {
            self = .otherScheme
            return
        }
        guard bytes.distance(from: first, to: last) < Self.maximumTokenLength else {
            self = .malformed
            return
        }
        // Both ends sit next to ASCII whitespace (or the ends of the value), so the slice is whole UTF-8.
        let token = String(decoding: bytes[first...last], as: UTF8.self)
        self = isDPoP ? .dpop(token) : .token(token)
    }
}

/// `WWW-Authenticate: DPoP …` challenges (RFC 9449 §7.1), written one way by the server and the
/// verifier's middleware.
public enum DPoPChallenge {
    /// The proof algorithms Tegata and its verifier accept.
    public static let algorithms = ["ES256"]

    /// `DPoP algs="ES256"` and, for a refusal, `error="<code>"` and `error_description="<description>"`.
    public static func header(error: OAuthErrorCode? = nil, description: String? = nil) -> String {
        var parameters: [String] = []
        if let error { parameters.append(#"error="\#(error.rawValue)""#) }
        if let description { parameters.append(#"error_description="\#(BearerChallenge.quoted(description))""#) }
        parameters.append(#"algs="\#(algorithms.joined(separator: " "))""#)
        return "DPoP " + parameters.joined(separator: ", ")
    }
}

/// `WWW-Authenticate: Bearer …` challenges (RFC 6750 §3), written one way by the server and the
/// verifier's middleware.
public enum BearerChallenge {
    /// `Bearer realm="<realm>"` and, for a refused token, `error="<code>"` and
    /// `error_description="<description>"` (quotes, backslashes and control characters dropped).
    public static func header(realm: String?, error: OAuthErrorCode? = nil, description: String? = nil) -> String {
        var parameters: [String] = []
        if let realm { parameters.append(#"realm="\#(quoted(realm))""#) }
        if let error { parameters.append(#"error="\#(error.rawValue)""#) }
        if let description { parameters.append(#"error_description="\#(quoted(description))""#) }
        return parameters.isEmpty ? "Bearer" : "Bearer " + parameters.joined(separator: ", ")
    }

    /// Keeps a text safe inside a quoted-string header value.
    public static func quoted(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 && $0.value != 0x7F }))
    }
}
