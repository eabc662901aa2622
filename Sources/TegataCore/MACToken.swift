import Crypto
import Foundation
import TegataTokens

/// The layout shared by Tegata's opaque tokens (refresh tokens, web-session cookies):
/// `base64url(version ‖ fields ‖ HMAC-SHA256(version ‖ fields))` under a key derived from the master key.
enum MACToken {
    static let macLength = 32

    /// The token for `body` (which starts with its version byte).
    static func seal(_ body: Data, with key: SymmetricKey) -> String {
        Base64URL.encode(body + Data(HMAC<SHA256>.authenticationCode(for: body, using: key)))
    }

    /// The authenticated body of `token` (version byte first), or nil unless it is exactly
    /// `bodyLength` bytes plus a valid MAC and carries `version`.
    static func open(_ token: String, encodedLength: Int, bodyLength: Int, version: UInt8, with key: SymmetricKey) -> [UInt8]? {
        guard token.utf8.count == encodedLength, let bytes = Base64URL.decode(token), bytes.count == bodyLength + macLength
        else { return nil }
        let body = bytes.prefix(bodyLength)
        guard HMAC<SHA256>.isValidAuthenticationCode(bytes.suffix(macLength), authenticating: body, using: key) else { return nil }
        let raw = Array(body)
        return raw[0] == version ? raw : nil
    }

    /// The UUID in `raw[offset ..< offset + 16]`.
    static func uuid(_ raw: [UInt8], at offset: Int) -> UUID {
        let o = offset
        return UUID(uuid: (raw[o], raw[o + 1], raw[o + 2], raw[o + 3], raw[o + 4], raw[o + 5], raw[o + 6], raw[o + 7],
                           raw[o + 8], raw[o + 9], raw[o + 10], raw[o + 11], raw[o + 12], raw[o + 13], raw[o + 14], raw[o + 15]))
    }

    /// The big-endian Int64 in `raw[offset ..< offset + 8]`.
    static func int64(_ raw: [UInt8], at offset: Int) -> Int64 {
        raw[offset..<(offset + 8)].reduce(0) { $0 << 8 | Int64($1) }
    }

    /// Appends a UUID's 16 bytes.
    static func append(_ uuid: UUID, to data: inout Data) {
        withUnsafeBytes(of: uuid.uuid) { data.append(contentsOf: $0) }
    }

    /// Appends a big-endian Int64.
    static func append(_ value: Int64, to data: inout Data) {
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }
}
