import Crypto
import Foundation

/// A per-process random HMAC key for hashing secrets that are only compared, never stored.
struct SymmetricKeyBox: Sendable {
    private let key = SymmetricKey(size: .bits256)

    func mac(_ value: String) -> Data { Data(HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: key)) }

    func verify(_ value: String, against expected: Data) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: Data(value.utf8), using: key)
    }
}

/// A secret from configuration that requests must present exactly (a webhook's `Authorization`
/// value, the admin API key). Compared in constant time through a keyed hash, so neither the length
/// nor a prefix of the secret leaks through timing.
public struct ConfiguredSecret: Sendable {
    private let key = SymmetricKeyBox()
    private let expected: Data

    /// Creates a check for the configured value.
    public init(expected value: String) {
        expected = key.mac(value)
    }

    /// Whether `presented` is exactly the configured value.
    public func matches(_ presented: String?) -> Bool {
        key.verify(presented ?? "", against: expected) && presented != nil
    }
}
