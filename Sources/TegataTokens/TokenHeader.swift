import Foundation

/// The protected header of a compact JWS, read before any key is chosen so that `alg`, `typ` and
/// `kid` are checked before anything else.
struct TokenHeader: Decodable {
    var alg: String?
    var typ: String?
    var kid: String?
    var crit: [String]?

    /// Largest token Tegata looks at; anything longer is rejected before parsing.
    static let maximumTokenLength = 8 * 1024
}

/// A compact JWS split into its parts (RFC 7515 §7.1), with the header decoded.
struct CompactJWS {
    let header: TokenHeader
    /// The bytes the signature covers: `header.payload` as sent.
    let signingInput: Substring.UTF8View
    /// The base64url payload segment.
    let payload: Substring.UTF8View
    /// The base64url signature segment.
    let signature: Substring.UTF8View

    /// Splits `token` and decodes its header; `malformed` for anything that is not three non-empty
    /// base64url segments with a JSON object header.
    init(_ token: String) throws(AccessTokenError) {
        guard token.utf8.count <= TokenHeader.maximumTokenLength else { throw .malformed }
        let text = Substring(token)
        let segments = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard segments.count == 3, !segments[0].isEmpty, !segments[1].isEmpty, !segments[2].isEmpty,
              let headerData = Base64URL.decode(utf8: segments[0]),
              let header = try? JSONDecoder().decode(TokenHeader.self, from: headerData)
        else { throw .malformed }
        self.header = header
        self.signingInput = text.utf8[segments[0].startIndex..<segments[1].endIndex]
        self.payload = segments[1]
        self.signature = segments[2]
    }
}
