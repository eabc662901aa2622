import Crypto
import CryptoExtras
import Foundation
import TegataWire

/// A signature algorithm Tegata accepts on an external provider's ID token. Only asymmetric
/// algorithms exist here: `none` and the HMAC family (`HS256`…) can never be configured or accepted,
/// because a provider's keys are public and an HMAC "signed" with a public key proves nothing.
public enum ExternalAlgorithm: String, Sendable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Apple, Google).
    case rs256 = "RS256"
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    case rs384 = "RS384"
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    case rs512 = "RS512"
    /// RSASSA-PSS with SHA-256.
    case ps256 = "PS256"
    /// ECDSA on P-256 with SHA-256 (LINE).
    case es256 = "ES256"
    /// ECDSA on P-384 with SHA-384.
    case es384 = "ES384"
}

/// The public keys of an external provider's JWKS document (RFC 7517), ready to verify signatures.
/// Only signing keys of types an ``ExternalAlgorithm`` uses are kept: RSA of at least 2048 bits,
/// EC on P-256 or P-384. Symmetric (`oct`) keys, encryption keys and malformed entries are left out.
public struct ExternalKeySet: Sendable {
    enum PublicKey: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
    }

    struct Entry: Sendable {
        let kid: String?
        /// The key's own `alg`, when the JWK names one: then only that algorithm may use it.
        let algorithm: ExternalAlgorithm?
        let key: PublicKey

        func fits(_ algorithm: ExternalAlgorithm) -> Bool {
            if let own = self.algorithm, own != algorithm { return false }
            switch (key, algorithm) {
            case (.rsa, .rs256), (.rsa, .rs384), (.rsa, .rs512), (.rsa, .ps256), (.p256, .es256), (.p384, .es384): return true
            default: return false
            }
        }
    }

    let entries: [Entry]
    /// How many entries of the document were left out as unusable.
    public let skippedCount: Int

    /// Why a document is not a usable key set.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong.
        public let description: String
    }

    /// A set without keys, for tokens verified with a provider's shared secret instead.
    public static let empty = ExternalKeySet(entries: [])

    private init(entries: [Entry]) {
        self.entries = entries
        skippedCount = 0
    }

    /// Parses a JWKS document. Throws if it is not a JSON object with a `keys` array, or if none of
    /// its keys can verify anything (keeping a previous good set is then the caller's choice).
    public init(jwksJSON: Data) throws(ParseError) {
        guard StrictJSON.isValid(jwksJSON), let object = try? JSONSerialization.jsonObject(with: jwksJSON) as? [String: Any],
              let keys = object["keys"] as? [Any]
        else { throw ParseError(description: "the document is not a JWKS (a JSON object with a keys array)") }
        let entries = keys.compactMap { ($0 as? [String: Any]).flatMap(Self.entry) }
        guard !entries.isEmpty else { throw ParseError(description: "the JWKS has no usable signing key") }
        self.entries = entries
        self.skippedCount = keys.count - entries.count
    }

    /// The key ids in the set (keys without one are not listed).
    public var keyIDs: [String] { entries.compactMap(\.kid) }

    private static func entry(_ jwk: [String: Any]) -> Entry? {
        if let use = jwk["use"] { guard use as? String == "sig" else { return nil } }
        if let ops = jwk["key_ops"] {
            guard let list = ops as? [String], list.contains("verify") else { return nil }
        }
        var algorithm: ExternalAlgorithm?
        if let alg = jwk["alg"] {
            // A key published for an algorithm Tegata does not accept (HS256, RSA-OAEP, …) is not used at all.
            guard let name = alg as? String, let known = ExternalAlgorithm(rawValue: name) else { return nil }
            algorithm = known
        }
        let kid = jwk["kid"] as? String
        if jwk["kid"] != nil && kid == nil { return nil }
        func bytes(_ name: String) -> Data? { (jwk[name] as? String).flatMap(decodeMember) }
        let key: PublicKey
        switch jwk["kty"] as? String {
        case "RSA":
            guard let n = bytes("n"), let e = bytes("e"), let rsa = try? _RSA.Signing.PublicKey(n: n, e: e) else { return nil }
            key = .rsa(rsa)
        case "EC":
            guard let x = bytes("x"), let y = bytes("y") else { return nil }
            switch jwk["crv"] as? String {
            case "P-256":
                guard x.count == 32, y.count == 32, let p256 = try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
                else { return nil }
                key = .p256(p256)
            case "P-384":
                guard x.count == 48, y.count == 48, let p384 = try? P384.Signing.PublicKey(x963Representation: [0x04] + x + y)
                else { return nil }
                key = .p384(p384)
            default:
                return nil
            }
        default:
            return nil
        }
        let entry = Entry(kid: kid, algorithm: algorithm, key: key)
        // A JWK whose own `alg` does not suit its key type (an RSA key marked ES256) is left out.
        if let algorithm, !entry.fits(algorithm) { return nil }
        return entry
    }

    /// JWK members are base64url without padding (RFC 7518 §6); a padded spelling is tolerated here,
    /// since a key document is configuration the operator trusts, not attacker input.
    private static func decodeMember(_ text: String) -> Data? {
        var trimmed = Substring(text)
        while trimmed.hasSuffix("=") { trimmed = trimmed.dropLast() }
        return Base64URL.decode(trimmed)
    }

    /// The keys a token with this `kid` (or none) and `alg` may be verified with.
    func candidates(kid: String?, algorithm: ExternalAlgorithm) -> [Entry] {
        if let kid { return entries.filter { $0.kid == kid && $0.fits(algorithm) } }
        return entries.filter { $0.fits(algorithm) }
    }
}

extension ExternalKeySet.Entry {
    /// Whether `signature` over `input` verifies with this key under `algorithm`.
    func verifies(_ signature: Data, over input: Data, algorithm: ExternalAlgorithm) -> Bool {
        switch (key, algorithm) {
        case (.rsa(let key), .rs256):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), .rs384):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA384.hash(data: input), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), .rs512):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA512.hash(data: input), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), .ps256):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: input), padding: .PSS)
        case (.p256(let key), .es256):
            guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(ecdsa, for: input)
        case (.p384(let key), .es384):
            guard let ecdsa = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(ecdsa, for: input)
        default:
            return false
        }
    }
}
