import Crypto
import Foundation

/// The server's secret keys, all derived (HKDF-SHA256) from the master key so that none of them is
/// ever in the database: the device-secret hash key, the refresh-token MAC key and the key that
/// encrypts private signing keys at rest.
public struct ServerSecrets: Sendable {
    /// Keys HMAC-SHA256 hashes of device secrets.
    public let deviceSecretKey: SymmetricKey
    /// Keys the MAC inside refresh tokens.
    public let refreshTokenKey: SymmetricKey
    /// Encrypts private signing keys (AES-256-GCM) before they are stored.
    public let keyEncryptionKey: SymmetricKey
    /// Keys the MAC inside web-session cookies.
    public let sessionCookieKey: SymmetricKey
    /// Keys the MAC inside DPoP server nonces (``DPoPNonces``).
    public let dpopNonceKey: SymmetricKey

    /// The length of a master key in bytes.
    public static let masterKeyLength = 32

    /// Derives the secrets from a 32-byte master key.
    public init(masterKey: SymmetricKey) {
        func derive(_ label: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: masterKey, salt: Data("tegata".utf8), info: Data(label.utf8), outputByteCount: 32)
        }
        deviceSecretKey = derive("device-secret-hash v1")
        refreshTokenKey = derive("refresh-token-mac v1")
        keyEncryptionKey = derive("signing-key-encryption v1")
        sessionCookieKey = derive("session-cookie-mac v1")
        dpopNonceKey = derive("dpop-nonce-mac v1")
    }

    /// The keyed hash stored for a device secret.
    public func hash(_ secret: DeviceSecret) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: secret.utf8, using: deviceSecretKey))
    }

    /// Whether `secret` hashes to `storedHash`, compared in constant time.
    public func verify(_ secret: DeviceSecret, against storedHash: Data) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(storedHash, authenticating: secret.utf8, using: deviceSecretKey)
    }

    /// Encrypts a private key for storage (AES-256-GCM; the key id is authenticated as associated data).
    public func seal(privateKey: Data, keyID: String) throws -> Data {
        let box = try AES.GCM.seal(privateKey, using: keyEncryptionKey, authenticating: Data(keyID.utf8))
        guard let combined = box.combined else { throw TegataError.serverError }
        return combined
    }

    /// Decrypts a stored private key; throws if the master key is not the one it was sealed under.
    public func open(sealedPrivateKey: Data, keyID: String) throws -> Data {
        try AES.GCM.open(AES.GCM.SealedBox(combined: sealedPrivateKey), using: keyEncryptionKey,
                         authenticating: Data(keyID.utf8))
    }
}
