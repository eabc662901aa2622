import Foundation

/// A signing key and the moment it starts signing.
public struct ScheduledSigningKey: Sendable {
    /// The key.
    public let key: SigningKey
    /// From when it signs new tokens (until a later key takes over).
    public let activatesAt: Date

    /// Pairs a key with its activation time.
    public init(key: SigningKey, activatesAt: Date) {
        self.key = key
        self.activatesAt = activatesAt
    }
}

/// Which key signs and which keys are published at any moment of a key rotation. Pure: the server
/// keeps one and asks it for the ring of the current time.
///
/// - Keys are in rotation order. The signing key is the last one whose activation has come (so an
///   immediate rotation wins even at the very instant of the key before it).
/// - A key waiting to sign is published at once, so verifiers know it before any token carries it.
/// - A key that stopped signing stays published for `retention` (the longest lifetime of a token it
///   signed, plus leeway), then disappears from the JWKS.
public struct SigningKeySchedule: Sendable {
    /// The keys in rotation order, oldest first.
    public let keys: [ScheduledSigningKey]
    /// How long a key stays published after it stopped signing.
    public let retention: TimeInterval

    /// Creates a schedule from keys in rotation order, oldest first; `keys` must not be empty.
    public init(keys: [ScheduledSigningKey], retention: TimeInterval) {
        precondition(!keys.isEmpty, "a key schedule needs a key")
        self.keys = keys
        self.retention = retention
    }

    /// The index of the signing key at `now`: the last activated one (the earliest key if the clock
    /// reads earlier than every activation, which only a clock set back can cause).
    private func signingIndex(at now: Date) -> Int {
        keys.lastIndex { $0.activatesAt <= now } ?? 0
    }

    /// When key `index` stops being published (nil: not while it signs or waits to sign).
    private func publishedUntil(_ index: Int, signing: Int) -> Date? {
        guard index < signing else { return nil }
        return keys[index + 1].activatesAt.addingTimeInterval(retention)
    }

    /// The key ring for `now`, and the moment it may change (the next activation or retirement).
    public func ring(at now: Date) throws -> (ring: KeyRing, validUntil: Date) {
        let signing = signingIndex(at: now)
        var others: [SigningKey] = []
        var validUntil = Date.distantFuture
        for index in keys.indices where index != signing {
            if let end = publishedUntil(index, signing: signing) {
                guard end > now else { continue }
                validUntil = min(validUntil, end)
            } else if keys[index].activatesAt > now {
                validUntil = min(validUntil, keys[index].activatesAt)
            }
            others.append(keys[index].key)
        }
        return (try KeyRing(signing: keys[signing].key, others: others), validUntil)
    }

    /// Keys no longer published at `now` (safe to delete).
    public func retired(at now: Date) -> [KeyID] {
        let signing = signingIndex(at: now)
        return keys.indices.compactMap { index in
            guard let end = publishedUntil(index, signing: signing), end <= now else { return nil }
            return keys[index].key.id
        }
    }

    /// Keys waiting to sign at `now`.
    public func pending(at now: Date) -> [ScheduledSigningKey] {
        keys.filter { $0.activatesAt > now }
    }
}
