import Foundation
import TegataWire

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

/// A compact JWS split into its parts (RFC 7515 §7.1) inside the token's UTF-8 bytes, with the
/// header decoded. Works on a buffer: it is on every verification's path.
struct CompactJWS {
    let header: TokenHeader
    /// The bytes the signature covers: `header.payload` as sent.
    let signingInput: UnsafeBufferPointer<UInt8>
    /// The base64url payload segment.
    let payload: UnsafeBufferPointer<UInt8>
    /// The base64url signature segment.
    let signature: UnsafeBufferPointer<UInt8>

    /// Splits `token` and decodes its header; `malformed` for anything that is not three non-empty
    /// base64url segments with a JSON object header. A header segment found in `knownHeaders`
    /// (the exact bytes Tegata writes for a key) is taken without JSON decoding.
    init(_ token: UnsafeBufferPointer<UInt8>, knownHeaders: [(segment: [UInt8], header: TokenHeader)] = []) throws(AccessTokenError) {
        guard token.count <= TokenHeader.maximumTokenLength else { throw .malformed }
        // The dots found with memchr: a byte-at-a-time loop over the whole token was a visible
        // share of a verification.
        func dot(after start: Int) -> Int {
            guard start < token.count, let base = token.baseAddress,
                  let found = memchr(base + start, Int32(UInt8(ascii: ".")), token.count - start)
            else { return -1 }
            return UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
        }
        let firstDot = dot(after: 0)
        let secondDot = firstDot < 0 ? -1 : dot(after: firstDot + 1)
        guard secondDot < 0 || dot(after: secondDot + 1) < 0 else { throw .malformed }
        guard firstDot > 0, secondDot > firstDot + 1, secondDot < token.count - 1 else { throw .malformed }
        let headerSegment = UnsafeBufferPointer(rebasing: token[..<firstDot])
        if let known = knownHeaders.first(where: { known in
            known.segment.count == headerSegment.count
                && known.segment.withUnsafeBufferPointer { memcmp($0.baseAddress!, headerSegment.baseAddress!, headerSegment.count) == 0 }
        }) {
            header = known.header
        } else {
            // Strict JSON first: JSONDecoder keeps the first of two `alg`s, other parsers the last.
            guard let headerData = Base64URL.decode(utf8: headerSegment), StrictJSON.isValid(headerData),
                  let decoded = try? JSONDecoder().decode(TokenHeader.self, from: headerData)
            else { throw .malformed }
            header = decoded
        }
        signingInput = UnsafeBufferPointer(rebasing: token[..<secondDot])
        payload = UnsafeBufferPointer(rebasing: token[(firstDot + 1)..<secondDot])
        signature = UnsafeBufferPointer(rebasing: token[(secondDot + 1)...])
    }
}
