import Foundation
import TegataWire
import Testing

@Suite struct StrictJSONTests {
    private func accepts(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(StrictJSON.isValid(Array(text.utf8)), "refused: \(text)", sourceLocation: sourceLocation)
    }

    private func refuses(_ bytes: [UInt8], _ reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try StrictJSON.validate(bytes)
            Issue.record("accepted: \(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        } catch {
            if let reason {
                #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }

    private func refuses(_ text: String, _ reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        refuses(Array(text.utf8), reason, sourceLocation: sourceLocation)
    }

    @Test func acceptsRFC8259JSON() {
        for text in [
            "{}", "[]", "0", "-0", "1.5e10", "-12.25E-3", "1E+2", "true", "false", "null", #""""#, #""a\"b\\c\/d\b\f\n\r\t""#,
            #""\u00e9\uD83D\uDE42""#, #""é漢🙂""#, " \t\r\n{ \"a\" : [ 1 , { \"b\" : null } ] } \n",
            #"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#,  // the same name in different objects is fine
            #"{"a":1,"A":2,"a ":3}"#,
        ] {
            accepts(text)
        }
        accepts(String(repeating: "[", count: StrictJSON.maximumDepth) + String(repeating: "]", count: StrictJSON.maximumDepth))
    }

    @Test func refusesWhatFoundationWouldLetThrough() {
        refuses(#"{"scope": "global",}"#, "member name")
        refuses("[1,2,]")
        refuses("[1,,2]")
        refuses("{,}")
        refuses(#"{"a" 1}"#, ":")
        refuses(#"{"a":1 "b":2}"#)
        refuses("// comment\n{}")
        refuses("{/* c */}")
        refuses("{'a': 1}")
        refuses("{a: 1}")
        refuses("[01]", "leading zero")
        refuses("[.5]")
        refuses("[1.]", "decimal point")
        refuses("[1e]", "exponent")
        refuses("[+1]")
        refuses("[NaN]")
        refuses("[Infinity]")
        refuses("[0x10]")
        refuses("[tru]")
        refuses("[True]")
        refuses("{} {}", "after")
        refuses("{}x")
        refuses("")
        refuses("   ")
        refuses("{")
        refuses(#"{"a":"#)
        refuses(#"["abc"#, "inside a string")
        refuses("[\"a\u{1}\"]", "control character")
        refuses("[\"a\tb\"]", "control character")
        refuses(#"["\x41"]"#, "escape")
        refuses(#"["\u12"]"#, "\\u")
        refuses(#"["\uD800"]"#, "\\u")         // a lone high surrogate
        refuses(#"["\uDC00"]"#, "\\u")         // a lone low surrogate
        refuses(#"["\uD800\u0041"]"#, "\\u")   // a high surrogate with no low half
    }

    @Test func refusesRepeatedMemberNames() {
        refuses(#"{"exp":1,"exp":2}"#, "repeats")
        refuses(#"{"exp":1,"sub":"x","exp":2}"#, "repeats")
        refuses(#"{"exp":1,"\u0065xp":2}"#, "repeats")       // the same name, escaped
        refuses(#"{"a\/b":1,"a/b":2}"#, "repeats")
        refuses(#"{"a":{"b":1,"b":2}}"#, "repeats")           // nested
        refuses(#"[{"a":1},{"b":1,"b":1}]"#, "repeats")
        refuses(#"{"":1,"":2}"#, "repeats")
        // The offset points at the repeated name.
        #expect(throws: StrictJSON.Violation.self) { try StrictJSON.validate(Array(#"{"a":1,"a":2}"#.utf8)) }
        do {
            try StrictJSON.validate(Array(#"{"a":1,"a":2}"#.utf8))
        } catch {
            #expect(error.offset == 7)
        }
    }

    @Test func refusesTextThatIsNotUTF8() {
        func string(_ bytes: [UInt8]) -> [UInt8] { [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")] }
        refuses(string([0xFF]), "UTF-8")
        refuses(string([0xC0, 0x80]), "UTF-8")              // overlong NUL
        refuses(string([0xE0, 0x80, 0x80]), "UTF-8")        // overlong
        refuses(string([0xED, 0xA0, 0x80]), "UTF-8")        // an encoded surrogate
        refuses(string([0xF4, 0x90, 0x80, 0x80]), "UTF-8")  // past U+10FFFF
        refuses(string([0xC3]), "UTF-8")                     // truncated
        refuses(string([0x80]), "UTF-8")                     // a lone continuation byte
        refuses([0xEF, 0xBB, 0xBF] + Array("{}".utf8))       // a byte order mark
        #expect(StrictJSON.isValid(string([0xC3, 0xA9, 0xF0, 0x9F, 0x99, 0x82])))
    }

    @Test func deepNestingIsRefusedWithoutRecursion() {
        let depth = StrictJSON.maximumDepth + 1
        refuses(String(repeating: "[", count: depth) + String(repeating: "]", count: depth), "nested")
        refuses(String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth), "nested")
        // Far deeper than any stack would allow a recursive parser: refused at once.
        refuses(String(repeating: "[", count: 1_000_000), "nested")
    }

    /// Whatever the strict check accepts, Foundation's parser accepts too (so the check only ever
    /// narrows what reaches the decoder). Random texts built from JSON's own pieces, valid and broken.
    @Test func whatItAcceptsFoundationAcceptsToo() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["{", "}", "[", "]", ",", ":", #""a""#, #""b""#, #""\u0061""#, "1", "-0.5", "true", "null", " ", "01", #""\"""#]
        var accepted = 0
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 1...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            let bytes = Data(text.utf8)
            guard StrictJSON.isValid(bytes) else { continue }
            accepted += 1
            let parsed = try? JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
            #expect(parsed != nil, "Foundation refuses what the strict check accepts: \(text)")
        }
        #expect(accepted > 100)
    }
}
