import Foundation

/// Base64url without padding (RFC 7515 §2), as JOSE uses it. Byte-level: it is on every token's path.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The 6-bit value of each byte, or 0xFF for bytes outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Whether `byte` is one of base64url's 64 characters.
    public static func isAlphabetByte(_ byte: UInt8) -> Bool { values[Int(byte)] != 0xFF }

    /// Encodes bytes as unpadded base64url.
    public static func encode(_ bytes: some DataProtocol) -> String {
        if let encoded = bytes.withContiguousStorageIfAvailable({ encode(buffer: $0) }) { return encoded }
        return Array(bytes).withUnsafeBufferPointer { encode(buffer: $0) }
    }

    private static func encode(buffer input: UnsafeBufferPointer<UInt8>) -> String {
        let length = (input.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: length) { output in
            alphabet.withUnsafeBufferPointer { alphabet in
                var out = 0
                var index = 0
                while index + 3 <= input.count {
                    let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                    output[out] = alphabet[Int(chunk >> 18 & 63)]
                    output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
                    output[out + 2] = alphabet[Int(chunk >> 6 & 63)]
                    output[out + 3] = alphabet[Int(chunk & 63)]
                    index += 3
                    out += 4
                }
                switch input.count - index {
                case 1:
                    let chunk = UInt32(input[index]) << 16
                    output[out] = alphabet[Int(chunk >> 18 & 63)]
                    output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
                    out += 2
                case 2:
                    let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                    output[out] = alphabet[Int(chunk >> 18 & 63)]
                    output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
                    output[out + 2] = alphabet[Int(chunk >> 6 & 63)]
                    out += 3
                default:
                    break
                }
                return out
            }
        }
    }

    /// Decodes unpadded base64url; nil for anything else: padding, the standard alphabet's `+` and
    /// `/`, whitespace, a length no encoding has, or leftover bits that are not zero (so every byte
    /// string has exactly one accepted spelling).
    public static func decode(_ string: some StringProtocol) -> Data? {
        decode(utf8: string.utf8)
    }

    /// Decodes the UTF-8 bytes of unpadded base64url, with the same rules as ``decode(_:)``.
    public static func decode(utf8 bytes: some Collection<UInt8>) -> Data? {
        if let decoded = bytes.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return decoded }
        return Array(bytes).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private static func decode(buffer input: UnsafeBufferPointer<UInt8>) -> Data? {
        guard let count = decodedCount(input.count) else { return nil }
        var output = Data(count: count)
        let valid = output.withUnsafeMutableBytes { decode(input, into: $0) }
        return valid ? output : nil
    }

    /// Decodes `input` into a temporary buffer (on the stack when it is small) that `body` reads,
    /// without allocating a `Data`: for a token's payload, read once and dropped. Nil when `input` is
    /// not unpadded base64url, by the rules of ``decode(_:)``.
    package static func withDecoded<R>(utf8 input: UnsafeBufferPointer<UInt8>, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let count = decodedCount(input.count) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: max(count, 1), alignment: 1) { output -> R? in
            let output = UnsafeMutableRawBufferPointer(rebasing: output[..<count])
            guard decode(input, into: output) else { return nil }
            return body(UnsafeRawBufferPointer(output))
        }
    }

    /// The number of bytes `count` characters of unpadded base64url decode to; nil for a length no
    /// encoding has.
    private static func decodedCount(_ count: Int) -> Int? {
        let remainder = count % 4
        guard remainder != 1 else { return nil }
        return count / 4 * 3 + (remainder == 0 ? 0 : remainder - 1)
    }

    /// Decodes `input` into `output`, which holds exactly `decodedCount(input.count)` bytes; false
    /// for a character outside the alphabet or leftover bits that are not zero.
    private static func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableRawBufferPointer) -> Bool {
        values.withUnsafeBufferPointer { values in
            var out = 0
            var index = 0
            // Whole groups of four characters: three bytes each.
            while index + 4 <= input.count {
                let a = values[Int(input[index])], b = values[Int(input[index + 1])]
                let c = values[Int(input[index + 2])], d = values[Int(input[index + 3])]
                guard (a | b | c | d) & 0xC0 == 0 else { return false }
                let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                output[out] = UInt8(truncatingIfNeeded: chunk >> 16)
                output[out + 1] = UInt8(truncatingIfNeeded: chunk >> 8)
                output[out + 2] = UInt8(truncatingIfNeeded: chunk)
                out += 3
                index += 4
            }
            // The last two or three characters; their unused bits must be zero.
            switch input.count - index {
            case 2:
                let a = values[Int(input[index])], b = values[Int(input[index + 1])]
                guard (a | b) & 0xC0 == 0, b & 0x0F == 0 else { return false }
                output[out] = a << 2 | b >> 4
            case 3:
                let a = values[Int(input[index])], b = values[Int(input[index + 1])], c = values[Int(input[index + 2])]
                guard (a | b | c) & 0xC0 == 0, c & 0x03 == 0 else { return false }
                output[out] = a << 2 | b >> 4
                output[out + 1] = (b & 0x0F) << 4 | c >> 2
            default:
                break
            }
            return true
        }
    }
}

extension Sequence where Element == UInt8 {
    /// The bytes as lowercase hex (digests in keys, signatures and nonces).
    public var lowercaseHex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
