/// Random identifiers for users, sessions and token ids.
public enum RandomID {
    /// A random (version 4) UUID in lower-case text, e.g. `4b0b5c1e-…`. Drawn from the system's
    /// CSPRNG (`getrandom`); Foundation's `UUID()` opens `/dev/urandom` on every call on Linux.
    public static func uuid() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = raw[6] & 0x0F | 0x40  // version 4
            raw[8] = raw[8] & 0x3F | 0x80  // RFC 9562 variant
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
}
