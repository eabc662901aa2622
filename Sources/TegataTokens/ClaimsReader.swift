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
            guard consume(UInt8(ascii: "{")) else { return nil }
            if !consume(UInt8(ascii: "}")) {
                repeat {
                    guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
                    func set<T>(_ slot: inout T?, _ value: T?) -> Bool {
                        guard slot == nil, let value else { return false }
                        slot = value
                        return true
                    }
                    let ok: Bool
                    switch key {
                    case "iss": ok = set(&iss, string())
                    case "sub": ok = set(&sub, string())
                    case "jti": ok = set(&jti, string())
                    case "sid": ok = set(&sid, string())
                    case "client_id": ok = set(&clientID, string())
                    case "aud": ok = set(&aud, audience())
                    case "exp": ok = set(&exp, integer())
                    case "nbf": ok = set(&nbf, integer())
                    case "iat": ok = set(&iat, integer())
                    case "tv": ok = set(&tv, integer())
                    case "amr": ok = set(&amr, strings())
                    case "anon": ok = set(&anon, boolean())
                    case "ent":
                        guard !seenEnt else { return nil }
                        seenEnt = true
                        if literal("null") {
                            ok = true
                        } else {
                            ok = set(&ent, entitlements())
                        }
                    default: return nil
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
                anon: anon, tv: tv, ent: ent)
        }

        mutating func skipWhitespace() {
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
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let value = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return value
                }
                guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
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

        /// `{"name": true | {"expires_at": n}, …}`.
        mutating func entitlements() -> [String: EntitlementGrant]? {
            guard consume(UInt8(ascii: "{")) else { return nil }
            var grants: [String: EntitlementGrant] = [:]
            if consume(UInt8(ascii: "}")) { return grants }
            repeat {
                guard let name = string(), grants[name] == nil, consume(UInt8(ascii: ":")) else { return nil }
                if literal("true") {
                    grants[name] = .unlimited
                } else {
                    guard consume(UInt8(ascii: "{")), string() == "expires_at", consume(UInt8(ascii: ":")),
                          let end = integer(), consume(UInt8(ascii: "}"))
                    else { return nil }
                    grants[name] = .until(end)
                }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}")) ? grants : nil
        }
    }
}
