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
    /// The length of an encoded token: 57 bytes, 76 base64url characters.
    public static let encodedLength = 76

    /// The token string.
    public func encode(with key: SymmetricKey) -> String {
        var body = Data([Self.version])
        MACToken.append(sessionID, to: &body)
        MACToken.append(generation, to: &body)
        return MACToken.seal(body, with: key)
    }

    /// Parses and authenticates a token string; nil if it is not a token this server made.
    public static func decode(_ token: String, with key: SymmetricKey) -> RefreshToken? {
        guard let raw = MACToken.open(token, encodedLength: encodedLength, bodyLength: bodyLength, version: version, with: key)
        else { return nil }
        return RefreshToken(sessionID: MACToken.uuid(raw, at: 1), generation: MACToken.int64(raw, at: 17))
    }
}
