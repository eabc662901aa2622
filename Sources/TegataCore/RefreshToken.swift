import Crypto
import Foundation
import TegataTokens

/// The opaque refresh token: `base64url(version ‖ session id ‖ generation ‖ HMAC-SHA256)`.
///
/// The database keeps only the session's generation; the token is recomputed on demand from the
/// session id and generation under a key that is not in the database, so a leaked database yields
/// no usable refresh token, and the grace rule can hand out the session's *current* token again.
/// Strength: the 256-bit MAC.
public struct RefreshToken: Sendable, Equatable {
    /// The session the token belongs to.
    public var sessionID: UUID
    /// Which rotation of the session's token this is.
    public var generation: Int64

    /// Names a token; nothing is computed until ``encode(with:)``.
    public init(sessionID: UUID, generation: Int64) {
        self.sessionID = sessionID
        self.generation = generation
    }

    private static let version: UInt8 = 1
    private static let bodyLength = 1 + 16 + 8
    private static let macLength = 32
    /// The length of an encoded token: 57 bytes, 76 base64url characters.
    public static let encodedLength = 76

    /// The token string.
    public func encode(with key: SymmetricKey) -> String {
        let body = self.body
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
        return Base64URL.encode(body + Data(mac))
    }

    /// Parses and authenticates a token string; nil if it is not a token this server made.
    public static func decode(_ token: String, with key: SymmetricKey) -> RefreshToken? {
        guard token.utf8.count == encodedLength, let bytes = Base64URL.decode(token),
              bytes.count == bodyLength + macLength
        else { return nil }
        let body = bytes.prefix(bodyLength)
        let mac = bytes.suffix(macLength)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key) else { return nil }
        let raw = Array(body)
        guard raw[0] == version else { return nil }
        let uuid = UUID(uuid: (raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8],
                               raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15], raw[16]))
        var generation: Int64 = 0
        for byte in raw[17..<25] { generation = generation << 8 | Int64(byte) }
        return RefreshToken(sessionID: uuid, generation: generation)
    }

    private var body: Data {
        var data = Data([Self.version])
        withUnsafeBytes(of: sessionID.uuid) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: generation.bigEndian) { data.append(contentsOf: $0) }
        return data
    }
}
