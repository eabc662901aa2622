import Foundation

/// The protected header of a compact JWS, read before any key is chosen so that `alg`, `typ` and
/// `kid` are checked by Tegata and not left to the JOSE library.
struct TokenHeader: Decodable {
    var alg: String?
    var typ: String?
    var kid: String?
    var crit: [String]?

    /// Largest token Tegata looks at; anything longer is rejected before parsing.
    static let maximumTokenLength = 8 * 1024

    /// Parses the header segment of a compact JWS.
    static func parse(compact token: String) throws(AccessTokenError) -> TokenHeader {
        guard token.utf8.count <= maximumTokenLength else { throw .malformed }
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3, !segments[0].isEmpty, !segments[1].isEmpty, !segments[2].isEmpty,
              let headerText = String(segments[0]),
              let headerData = Base64URL.decode(headerText),
              let header = try? JSONDecoder().decode(TokenHeader.self, from: headerData)
        else { throw .malformed }
        return header
    }
}
