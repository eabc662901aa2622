import Foundation
@testable import TegataTokens
import TegataWire
import Testing

/// The fast claims reader against `JSONDecoder`: wherever the reader answers, it answers what the
/// decoder does, and it never accepts what the decoder refuses.
@Suite struct ClaimsReaderTests {
    private func decoded(_ bytes: [UInt8]) -> AccessTokenClaims? {
        try? JSONDecoder().decode(AccessTokenClaims.self, from: Data(bytes))
    }

    private func expectAgreement(_ bytes: [UInt8], fast expectFast: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let fast = ClaimsReader.read(bytes)
        let slow = decoded(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        if let fast { #expect(fast == slow, "\(text)", sourceLocation: sourceLocation) }
        if slow == nil { #expect(fast == nil, "accepted what the decoder refuses: \(text)", sourceLocation: sourceLocation) }
        if let expectFast { #expect((fast != nil) == expectFast, "\(text)", sourceLocation: sourceLocation) }
    }

    private func randomClaims(_ generator: inout some RandomNumberGenerator) -> AccessTokenClaims {
        let alphabet = Array("abcXYZ019-_.:/ é漢🙂+")
        func text() -> String { String((0..<Int.random(in: 0...20, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }) }
        func number() -> Int64 { [0, 1, -1, Int64.max, Int64.min, Int64.random(in: -1_000_000...4_000_000_000, using: &generator)].randomElement(using: &generator)! }
        var ent: [String: EntitlementGrant]?
        if Bool.random(using: &generator) {
            ent = Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...3, using: &generator)).map { index in
                ("e\(index)\(text())", Bool.random(using: &generator) ? EntitlementGrant.unlimited : .until(number()))
            })
        }
        return AccessTokenClaims(
            iss: text(), sub: text(), aud: text(), exp: number(), nbf: number(), iat: number(), jti: text(), sid: text(),
            clientID: text(), amr: (0..<Int.random(in: 0...3, using: &generator)).map { _ in text() },
            anon: Bool.random(using: &generator), tv: number(), ent: ent,
            cnf: Bool.random(using: &generator) ? Confirmation(jkt: text()) : nil)
    }

    @Test func claimsAsTegataWritesThemAreReadExactly() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let claims = randomClaims(&generator)
            #expect(ClaimsReader.read(claims.jsonBytes) == claims)
            expectAgreement(claims.jsonBytes, fast: true)
            // JSONEncoder's output (other key order, escaped slashes) and pretty-printed text agree too.
            expectAgreement(Array(try JSONEncoder().encode(claims)))
            let pretty = try JSONSerialization.data(
                withJSONObject: try JSONSerialization.jsonObject(with: Data(claims.jsonBytes)), options: [.prettyPrinted])
            expectAgreement(Array(pretty))
        }
    }

    @Test func anythingOutsideThePlainFormIsLeftToTheDecoder() {
        let base = #""iss":"i","sub":"s","aud":"a","exp":10,"nbf":1,"iat":1,"jti":"j","sid":"d","client_id":"c","amr":["device"],"anon":true,"tv":0"#
        func object(_ body: String) -> [UInt8] { Array("{\(body)}".utf8) }
        expectAgreement(object(base), fast: true)
        expectAgreement(Array(" \n{ \(base.replacingOccurrences(of: ",", with: " ,\t")) } \r\n".utf8), fast: true)
        expectAgreement(object(base + #","aud2":1"#), fast: false)                  // an unknown claim
        expectAgreement(object(base + #","ent":null"#), fast: true)
        expectAgreement(object(base + #","ent":{}"#), fast: true)
        expectAgreement(object(base + #","ent":{"pro":true,"vip":{"expires_at":-5}}"#), fast: true)
        for variant in [
            base.replacingOccurrences(of: #""iss":"i""#, with: #""iss":"\u0069""#),    // an escape
            base.replacingOccurrences(of: #""aud":"a""#, with: #""aud":["a","b"]"#),    // two audiences
            base.replacingOccurrences(of: #""aud":"a""#, with: #""aud":["a"]"#),        // one in an array
            base.replacingOccurrences(of: #""exp":10"#, with: #""exp":10.0"#),
            base.replacingOccurrences(of: #""exp":10"#, with: #""exp":1e1"#),
            base.replacingOccurrences(of: #""exp":10"#, with: #""exp":010"#),
            base.replacingOccurrences(of: #""exp":10"#, with: #""exp":-0"#),
            base.replacingOccurrences(of: #""exp":10"#, with: #""exp":9223372036854775808"#),
            base.replacingOccurrences(of: #""exp":10"#, with: #""exp":"10""#),
            base.replacingOccurrences(of: #""anon":true"#, with: #""anon":1"#),
            base.replacingOccurrences(of: #","tv":0"#, with: ""),                        // a missing claim
            base + #","tv":1"#,                                                          // a duplicate
            base + #","ent":{"pro":false}"#,
            base + #","ent":{"pro":{"expires_at":5,"more":1}}"#,
            base + #","ent":{"pro":true,"pro":true}"#,
            base + #","ent":null,"ent":null"#,
            base + ",",
        ] {
            expectAgreement(object(variant))
        }
        for raw in ["", "{", "}", "[]", "null", "{}", "{\(base)}x", "{\(base)}}"] { expectAgreement(Array(raw.utf8)) }
        // Names one byte away from a claim's (or of another length) are not that claim: the reader
        // tells names by their bytes, and the decoder then finds the claim missing.
        for name in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "client_id", "amr", "anon", "tv"] {
            let bytes = Array(name.utf8)
            var nearMisses = [name + "x", String(name.dropLast()), name.uppercased()]
            for position in bytes.indices {
                var changed = bytes
                changed[position] ^= 0x01
                nearMisses.append(String(decoding: changed, as: UTF8.self))
            }
            for nearMiss in nearMisses {
                let variant = base.replacingOccurrences(of: "\"\(name)\":", with: "\"\(nearMiss)\":")
                #expect(ClaimsReader.read(object(variant)) == nil, "\(nearMiss)")
                expectAgreement(object(variant))
            }
        }
        // Invalid UTF-8 in a string, and a raw control character.
        var invalid = object(base)
        invalid[invalid.firstIndex(of: UInt8(ascii: "j"))!] = 0xFF
        expectAgreement(invalid)
        var control = object(base)
        control[control.firstIndex(of: UInt8(ascii: "j"))!] = 0x01
        expectAgreement(control)
    }

    @Test func tegatasHeaderIsTheOneTheVerifierKnowsWithoutDecoding() throws {
        let ring = try KeyRing(signing: .generate())
        let claims = AccessTokenClaims(
            iss: "https://auth.example", sub: "u", aud: "https://auth.example", exp: 2_000_000_000, nbf: 1, iat: 1, jti: "j", sid: "s",
            clientID: "tegata", amr: ["device"], anon: true, tv: 0, ent: nil)
        let token = try ring.sign(claims)
        let header = String(decoding: Base64URL.decode(String(token.split(separator: ".")[0]))!, as: UTF8.self)
        #expect(header == #"{"alg":"ES256","kid":"\#(ring.currentKeyID.rawValue)","typ":"at+jwt"}"#)
        #expect(try ring.verificationKeys.verifySignature(token) == claims)
    }
}
