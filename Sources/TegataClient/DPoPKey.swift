import Crypto
import Foundation
#if canImport(CryptoKit)
import CryptoKit
#endif

/// The DPoP key (RFC 9449) as the client keeps it, inside ``StoredCredentials`` — so it lives where
/// the refresh token lives (the Keychain, or a file only the app can read) and is written with it.
/// A Secure Enclave key is kept as the enclave's opaque handle: its private half never leaves the
/// enclave, and the handle works on no other device.
public struct StoredDPoPKey: Codable, Sendable, Equatable {
    /// Where the private key is.
    public enum Kind: String, Codable, Sendable {
        /// In the Secure Enclave; `data` is its `dataRepresentation`.
        case secureEnclave = "secure-enclave"
        /// A P-256 key in software; `data` is its raw private scalar.
        case software
    }

    /// Where the private key is.
    public var kind: Kind
    /// The key (software) or the enclave's handle to it.
    public var data: Data

    /// A stored key.
    public init(kind: Kind, data: Data) {
        self.kind = kind
        self.data = data
    }

    /// A new key: in the Secure Enclave when `preferSecureEnclave` and the device has one, else in software.
    static func generate(preferSecureEnclave: Bool) -> StoredDPoPKey {
        #if canImport(CryptoKit) && !os(Linux)
        if preferSecureEnclave, SecureEnclave.isAvailable, let key = try? SecureEnclave.P256.Signing.PrivateKey() {
            return StoredDPoPKey(kind: .secureEnclave, data: key.dataRepresentation)
        }
        #endif
        return StoredDPoPKey(kind: .software, data: P256.Signing.PrivateKey().rawRepresentation)
    }

    /// The key ready to sign, or nil when it cannot be opened (an enclave handle of another device).
    func signingKey() -> DPoPSigningKey? {
        switch kind {
        case .software:
            return (try? P256.Signing.PrivateKey(rawRepresentation: data)).map(DPoPSigningKey.software)
        case .secureEnclave:
            #if canImport(CryptoKit) && !os(Linux)
            return (try? SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: data)).map(DPoPSigningKey.secureEnclave)
            #else
            return nil
            #endif
        }
    }
}

/// A DPoP key that signs proofs.
enum DPoPSigningKey: Sendable {
    case software(P256.Signing.PrivateKey)
    #if canImport(CryptoKit) && !os(Linux)
    case secureEnclave(SecureEnclave.P256.Signing.PrivateKey)
    #endif

    /// The public key as `0x04 || x || y`.
    var x963PublicKey: Data {
        switch self {
        case .software(let key): key.publicKey.x963Representation
        #if canImport(CryptoKit) && !os(Linux)
        case .secureEnclave(let key): key.publicKey.x963Representation
        #endif
        }
    }

    /// The public JWK, members in RFC 7638 order (so it is also the thumbprint's input).
    var publicJWK: String {
        let raw = x963PublicKey
        return #"{"crv":"P-256","kty":"EC","x":"\#(Base64URLText.encode(raw[1..<33]))","y":"\#(Base64URLText.encode(raw[33..<65]))"}"#
    }

    /// The RFC 7638 thumbprint: what the server puts in `cnf.jkt`.
    var thumbprint: String { Base64URLText.encode(Data(SHA256.hash(data: Data(publicJWK.utf8)))) }

    /// An ES256 signature (`r || s`) of `data`.
    func sign(_ data: Data) throws -> Data {
        switch self {
        case .software(let key): try key.signature(for: data).rawRepresentation
        #if canImport(CryptoKit) && !os(Linux)
        case .secureEnclave(let key): try key.signature(for: data).rawRepresentation
        #endif
        }
    }
}

/// Base64url without padding (RFC 7515 §2).
enum Base64URLText {
    static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
