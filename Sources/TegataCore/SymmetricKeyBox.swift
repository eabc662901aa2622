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
