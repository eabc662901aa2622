import Foundation
import TegataWire

/// Reads access-token claims in the plain form Tegata writes them, without `JSONDecoder` (which
/// costs about as much as a third of an ES256 verification on Linux). It answers nil for anything
/// outside that form: an unknown claim, an escape in a string, a duplicate key, a number that is not
/// a plain integer, a missing claim, trailing bytes. The caller then decodes with `JSONDecoder`, so
/// what it accepts and refuses is the decoder's; this reader only answers first where it can give
/// the same claims (the tests hold the two to the same results).
package enum ClaimsReader {
    /// The claims, or nil when the bytes are outside Tegata's plain form.
    package static func read(_ bytes: some ContiguousBytes) -> AccessTokenClaims? {
        bytes.withUnsafeBytes { raw in
            var reader = Cursor(bytes: raw.assumingMemoryBound(to: UInt8.self))
            return reader.claims()
        }
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func claims() -> AccessTokenClaims? {
            var iss, sub, aud, jti, sid, clientID: String?
            var exp, nbf, iat, tv: Int64?
            var amr: [String]?
            var anon: Bool?
            var ent: [String: EntitlementGrant]?
            var seenEnt = false
            var cnf: Confirmation?
            guard consume(UInt8(ascii: "{")) else { return nil }
            if !consume(UInt8(ascii: "}")) {
                repeat {
                    guard let claim = claimName(), consume(UInt8(ascii: ":")) else { return nil }
                    func set<T>(_ slot: inout T?, _ value: T?) -> Bool {
                        guard slot == nil, let value else { return false }
                        slot = value
                        return true
                    }
                    let ok: Bool
                    switch claim {
                    case .iss: ok = set(&iss, string())
                    case .sub: ok = set(&sub, string())
                    case .jti: ok = set(&jti, string())
                    case .sid: ok = set(&sid, string())
                    case .clientID: ok = set(&clientID, string())
                    case .aud: ok = set(&aud, audience())
                    case .exp: ok = set(&exp, integer())
                    case .nbf: ok = set(&nbf, integer())
                    case .iat: ok = set(&iat, integer())
                    case .tv: ok = set(&tv, integer())
                    case .amr: ok = set(&amr, strings())
                    case .anon: ok = set(&anon, boolean())
                    case .cnf: ok = set(&cnf, confirmation())
                    case .ent:
                        guard !seenEnt else { return nil }
                        seenEnt = true
                        if literal("null") {
                            ok = true
                        } else {
                            ok = set(&ent, entitlements())
                        }
                    }
                    guard ok else { return nil }
                } while consume(UInt8(ascii: ","))
                guard consume(UInt8(ascii: "}")) else { return nil }
            }
            skipWhitespace()
            guard index == bytes.count,
                  let iss, let sub, let aud, let exp, let nbf, let iat, let jti, let sid, let clientID, let amr, let anon, let tv
            else { return nil }
            return AccessTokenClaims(
                iss: iss, sub: sub, aud: aud, exp: exp, nbf: nbf, iat: iat, jti: jti, sid: sid, clientID: clientID, amr: amr,
                anon: anon, tv: tv, ent: ent, cnf: cnf)
        }

        /// The claims the reader knows.
        enum Claim { case iss, sub, aud, exp, nbf, iat, jti, sid, clientID, amr, anon, tv, ent, cnf }

        /// The claim an object key names, told from the key's bytes without making a `String` of
        /// it (a `switch` over strings compares them one case after the other, which cost as much
        /// as the rest of the reading); nil for any other key, or one with an escape.
        mutating func claimName() -> Claim? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") { index += 1 }
            guard index < bytes.count else { return nil }
            let length = index - start
            index += 1
            func byte(_ offset: Int) -> UInt32 { UInt32(bytes[start + offset]) }
            switch length {
            case 2:
                return byte(0) == UInt32(UInt8(ascii: "t")) && byte(1) == UInt32(UInt8(ascii: "v")) ? .tv : nil
            case 3:
                // The three letters as one number, compared with the names' numbers.
                switch byte(0) << 16 | byte(1) << 8 | byte(2) {
                case 0x697373: return .iss  // "iss"
                case 0x737562: return .sub  // "sub"
                case 0x617564: return .aud  // "aud"
                case 0x657870: return .exp  // "exp"
                case 0x6E6266: return .nbf  // "nbf"
                case 0x696174: return .iat  // "iat"
                case 0x6A7469: return .jti  // "jti"
                case 0x736964: return .sid  // "sid"
                case 0x616D72: return .amr  // "amr"
                case 0x656E74: return .ent  // "ent"
                case 0x636E66: return .cnf  // "cnf"
                default: return nil
                }
            case 4:
                return matches(start, "anon") ? .anon : nil
            case 9:
                return matches(start, "client_id") ? .clientID : nil
            default:
                return nil
            }
        }

        func matches(_ start: Int, _ word: StaticString) -> Bool {
            for offset in 0..<word.utf8CodeUnitCount where bytes[start + offset] != word.utf8Start[offset] { return false }
            return true
        }

        @inline(__always) mutating func skipWhitespace() {
            // Tegata writes no whitespace: the common case returns at the first test.
            guard index < bytes.count, bytes[index] <= 0x20 else { return }
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
                default: return
                }
            }
        }

        /// Skips whitespace, then consumes `byte` if it comes next.
        mutating func consume(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func literal(_ word: StaticString) -> Bool {
            skipWhitespace()
            let length = word.utf8CodeUnitCount
            guard bytes.count - index >= length else { return false }
            for offset in 0..<length where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += length
            return true
        }

        /// A string without escapes or control characters, valid UTF-8.
        mutating func string() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            let start = index
            var ascii = true
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    // ASCII is valid UTF-8 as it is, and `String(decoding:)` of a byte buffer is
                    // specialised; `String(validating:)` is generic code that looks up type metadata
                    // on every call (a tenth of the verifier's overhead when every claim went through it).
                    let value = ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
                    index += 1
                    return value
                }
                guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
                ascii = ascii && byte < 0x80
                index += 1
            }
            return nil
        }

        /// An integer: an optional minus and digits, no leading zero, within Int64.
        mutating func integer() -> Int64? {
            skipWhitespace()
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            let start = index
            var value: Int64 = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let digit = Int64(bytes[index] - UInt8(ascii: "0"))
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            let digits = index - start
            guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
            // A fraction or an exponent: not a plain integer.
            if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) { return nil }
            return value
        }

        mutating func boolean() -> Bool? {
            if literal("true") { return true }
            if literal("false") { return false }
            return nil
        }

        mutating func strings() -> [String]? {
            guard consume(UInt8(ascii: "[")) else { return nil }
            var values: [String] = []
            if consume(UInt8(ascii: "]")) { return values }
            repeat {
                guard let value = string() else { return nil }
                values.append(value)
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]")) ? values : nil
        }

        /// A string, or an array of exactly one string.
        mutating func audience() -> String? {
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") { return string() }
            guard let values = strings(), values.count == 1 else { return nil }
            return values[0]
        }

        /// `{"jkt": "…"}`.
        mutating func confirmation() -> Confirmation? {
            guard consume(UInt8(ascii: "{")), string() == "jkt", consume(UInt8(ascii: ":")), let jkt = string(),
                  consume(UInt8(ascii: "}"))
            else { return nil }
            return Confirmation(jkt: jkt)
        }

        /// `{"name": true | {"expires_at": n}, …}`.
        mutating func entitlements() -> [String: EntitlementGrant]? {
            guard consume(UInt8(ascii: "{")) else { return nil }
            // Sized for a few grants, each name hashed once (a repeated name is refused).
            var grants = [String: EntitlementGrant](minimumCapacity: 4)
            if consume(UInt8(ascii: "}")) { return grants }
            repeat {
                guard let name = string(), consume(UInt8(ascii: ":")) else { return nil }
                let grant: EntitlementGrant
                if literal("true") {
                    grant = .unlimited
                } else {
                    guard consume(UInt8(ascii: "{")), string() == "expires_at", consume(UInt8(ascii: ":")),
                          let end = integer(), consume(UInt8(ascii: "}"))
                    else { return nil }
                    grant = .until(end)
                }
                guard grants.updateValue(grant, forKey: name) == nil else { return nil }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}")) ? grants : nil
        }
    }
}
