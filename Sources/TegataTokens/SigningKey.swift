import Crypto
import Foundation
import TegataWire

/// An ES256 (P-256) signing key and its id. The private key never leaves this value in clear form
/// except through ``pemRepresentation`` and ``rawRepresentation`` (for encrypted storage).
public struct SigningKey: Sendable {
    /// The key id (RFC 7638 thumbprint of the public key).
    public let id: KeyID
    /// The private key.
    public let privateKey: P256.Signing.PrivateKey

    /// Wraps a private key; its id is computed from its public key.
    public init(privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.id = Self.thumbprint(of: privateKey.publicKey)
    }

    /// Generates a fresh key.
    public static func generate() -> SigningKey { SigningKey(privateKey: P256.Signing.PrivateKey()) }

    /// Loads a PEM private key (`-----BEGIN PRIVATE KEY-----` PKCS#8 or `-----BEGIN EC PRIVATE KEY-----` SEC 1).
    public init(pem: String) throws {
        self.init(privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem))
    }

    /// The raw 32-byte private scalar, for encrypted storage.
    public var rawRepresentation: Data { privateKey.rawRepresentation }

    /// Restores a key from its raw 32-byte private scalar.
    public init(rawRepresentation: Data) throws {
        self.init(privateKey: try P256.Signing.PrivateKey(rawRepresentation: rawRepresentation))
    }

    /// The public key as a JWK with `kid`, `alg` and `use`.
    public var publicJWK: PublicJWK { Self.jwk(of: privateKey.publicKey, kid: id) }

    /// The public key of this key as a JWK.
    static func jwk(of publicKey: P256.Signing.PublicKey, kid: KeyID) -> PublicJWK {
        let (x, y) = coordinates(of: publicKey)
        return PublicJWK(x: x, y: y, kid: kid.rawValue)
    }

    /// RFC 7638 JWK thumbprint: SHA-256 over `{"crv":"P-256","kty":"EC","x":"…","y":"…"}`, base64url.
    public static func thumbprint(of publicKey: P256.Signing.PublicKey) -> KeyID {
        let (x, y) = coordinates(of: publicKey)
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#
        return KeyID(rawValue: Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8)))))
    }

    private static func coordinates(of publicKey: P256.Signing.PublicKey) -> (String, String) {
        let x963 = publicKey.x963Representation  // 0x04 || x (32) || y (32)
        return (Base64URL.encode(x963[1..<33]), Base64URL.encode(x963[33..<65]))
    }
}
