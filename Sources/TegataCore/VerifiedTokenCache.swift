import Foundation
import Synchronization
import TegataTokens

/// Access tokens whose signature and header have already been verified, keyed on the *whole* token
/// string (a different payload or signature is a different key), so a client reusing its token does
/// not pay for an ES256 verification on every request. Only the signature check is cached: claims
/// are validated against the clock, and the session, token version and `jti` are checked, on every
/// request. Bounded: when full, expired entries go, and if that is not enough, everything goes.
public final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: AccessTokenClaims]>([:])
    /// The most tokens kept.
    public let capacity: Int

    /// Creates an empty cache.
    public init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    /// The claims of `token` if it was verified before.
    public func claims(for token: String) -> AccessTokenClaims? {
        entries.withLock { $0[token] }
    }

    /// Remembers a verified token.
    public func insert(_ token: String, claims: AccessTokenClaims, now: Date) {
        guard capacity > 0 else { return }
        let nowSeconds = Int64(now.timeIntervalSince1970)
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.exp > nowSeconds }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = claims
        }
    }

    /// How many tokens are cached.
    public var count: Int { entries.withLock { $0.count } }
}
