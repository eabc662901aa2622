import Foundation

/// Random identifiers for users, sessions and token ids.
public enum RandomID {
    /// A random (version 4) UUID in lower-case text, e.g. `4b0b5c1e-…`. Drawn from the system's
    /// CSPRNG (`getrandom`); Foundation's `UUID()` opens `/dev/urandom` on every call on Linux.
    /// For ids that are never a table's key in insertion order (token ids, request ids).
    public static func uuid() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = raw[6] & 0x0F | 0x40  // version 4
            raw[8] = raw[8] & 0x3F | 0x80  // RFC 9562 variant
            return text(raw)
        }
    }

    /// A time-ordered (version 7, RFC 9562 §5.7) UUID in lower-case text: the Unix time of `now` in
    /// milliseconds in the first 48 bits, then 74 random bits from the system's CSPRNG. For the keys
    /// of rows inserted as time passes (users, sessions, audit events): each new key lands at the
    /// right edge of its B-tree instead of on a random page, so an insert dirties (and writes to
    /// the WAL) the page the previous insert dirtied, not a page of its own. Guessing one is as hard
    /// as guessing 74 random bits, and it tells its creation time, which the tokens' `iat` and
    /// `/v1/me`'s `created_at` tell anyway.
    public static func timeOrderedUUID(now: Date) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000).rounded(.down))
        return withUnsafeMutableBytes(of: &bytes) { raw in
            for index in 0..<6 { raw[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
            raw[6] = raw[6] & 0x0F | 0x70  // version 7
            raw[8] = raw[8] & 0x3F | 0x80  // RFC 9562 variant
            return text(raw)
        }
    }

    private static func text(_ raw: UnsafeMutableRawBufferPointer) -> String {
        let hex = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { text in
            var out = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[out] = UInt8(ascii: "-")
                    out += 1
                }
                text[out] = hex[Int(raw[index] >> 4)]
                text[out + 1] = hex[Int(raw[index] & 0x0F)]
                out += 2
            }
            return out
        }
    }
}
