/// A strict RFC 8259 check of a JSON text, run before any decoder sees untrusted bytes: Foundation's
/// parsers accept more than JSON (a trailing comma, for one) and keep the *first* of two members with
/// the same name, while most parsers in other languages keep the last — so two readers of one token
/// or body would disagree. RFC 7515 §4 and RFC 7519 §4 allow rejecting such input; this does.
///
/// Refused: anything outside the grammar (trailing commas, comments, single quotes, leading zeros,
/// `NaN`, bare control characters in strings, bytes after the value), text that is not UTF-8, escapes
/// of lone surrogates, an object that repeats a member name (compared after unescaping, so `"a"` and
/// `"\u0061"` are the same name), and nesting deeper than `maximumDepth`. Iterative, so no input can
/// exhaust the stack.
public enum StrictJSON {
    /// Deepest nesting of objects and arrays accepted.
    public static let maximumDepth = 64

    /// Why a text was refused, with the byte offset where it was noticed.
    public struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, for an error text (never quotes the input).
        public let reason: String
        /// Byte offset into the text.
        public let offset: Int

        public var description: String { "\(reason) (at byte \(offset))" }
    }

    /// Throws a ``Violation`` unless `bytes` is one strict JSON text.
    public static func validate(_ bytes: some Collection<UInt8>) throws(Violation) {
        func scan(_ buffer: UnsafeBufferPointer<UInt8>) -> Violation? {
            var scanner = Scanner(bytes: buffer)
            return scanner.scan()
        }
        let result: Violation? = bytes.withContiguousStorageIfAvailable(scan) ?? Array(bytes).withUnsafeBufferPointer(scan)
        if let result { throw result }
    }

    /// Whether `bytes` is one strict JSON text.
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        do {
            try validate(bytes)
            return true
        } catch {
            return false
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        /// One entry per open container: the member names seen so far for an object, nil for an array.
        var stack: [Set<[UInt8]>?] = []

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        func fail(_ reason: String) -> Violation { Violation(reason: reason, offset: index) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        var next: UInt8? { index < bytes.count ? bytes[index] : nil }

        /// The whole text: one value, then only whitespace.
        mutating func scan() -> Violation? {
            // A UTF-8 byte order mark is not JSON (RFC 8259 §8.1: implementations must not add one).
            skipWhitespace()
            if let violation = value() { return violation }
            skipWhitespace()
            return index == bytes.count ? nil : fail("unexpected bytes after the JSON value")
        }

        /// One value, with its nested containers handled by the explicit stack.
        mutating func value() -> Violation? {
            while true {
                skipWhitespace()
                guard let byte = next else { return fail("the JSON text ends too early") }
                switch byte {
                case UInt8(ascii: "{"):
                    guard stack.count < StrictJSON.maximumDepth else { return fail("the JSON is nested too deeply") }
                    index += 1
                    stack.append(Set())
                    skipWhitespace()
                    if next == UInt8(ascii: "}") {
                        index += 1
                        stack.removeLast()
                        break
                    }
                    if let violation = memberName() { return violation }
                    continue
                case UInt8(ascii: "["):
                    guard stack.count < StrictJSON.maximumDepth else { return fail("the JSON is nested too deeply") }
                    index += 1
                    stack.append(nil)
                    skipWhitespace()
                    if next == UInt8(ascii: "]") {
                        index += 1
                        stack.removeLast()
                        break
                    }
                    continue
                case UInt8(ascii: "\""):
                    if case .failure(let violation) = string(collect: false) { return violation }
                case UInt8(ascii: "t"):
                    if let violation = literal("true") { return violation }
                case UInt8(ascii: "f"):
                    if let violation = literal("false") { return violation }
                case UInt8(ascii: "n"):
                    if let violation = literal("null") { return violation }
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if let violation = number() { return violation }
                default:
                    return fail("unexpected character in the JSON text")
                }
                // A value ended: close containers or move to the next element or member.
                while let top = stack.last {
                    skipWhitespace()
                    let isObject = top != nil
                    guard let byte = next else { return fail("the JSON text ends too early") }
                    if byte == UInt8(ascii: ",") {
                        index += 1
                        if isObject, let violation = memberName() { return violation }
                        break
                    }
                    if byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        index += 1
                        stack.removeLast()
                        continue
                    }
                    return fail(isObject ? "expected , or } in an object" : "expected , or ] in an array")
                }
                if stack.isEmpty { return nil }
            }
        }

        /// A member name and its colon, recorded in the innermost object; refuses a repeated name.
        mutating func memberName() -> Violation? {
            skipWhitespace()
            guard next == UInt8(ascii: "\"") else { return fail("expected a member name (a string) in an object") }
            let start = index
            switch string(collect: true) {
            case .failure(let violation): return violation
            case .success(let name):
                guard stack[stack.count - 1]!.insert(name).inserted else {
                    index = start
                    return fail("an object repeats a member name")
                }
            }
            skipWhitespace()
            guard next == UInt8(ascii: ":") else { return fail("expected : after a member name") }
            index += 1
            return nil
        }

        mutating func literal(_ word: StaticString) -> Violation? {
            let length = word.utf8CodeUnitCount
            guard bytes.count - index >= length else { return fail("unexpected character in the JSON text") }
            for offset in 0..<length where bytes[index + offset] != word.utf8Start[offset] {
                return fail("unexpected character in the JSON text")
            }
            index += length
            return nil
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() -> Violation? {
            if next == UInt8(ascii: "-") { index += 1 }
            if next == UInt8(ascii: "0") {
                index += 1
                if let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    return fail("a number has a leading zero")
                }
            } else if digits() == 0 {
                return fail("a number has no digits")
            }
            if next == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return fail("a number has no digits after its decimal point") }
            }
            if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
                index += 1
                if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return fail("a number has no digits in its exponent") }
            }
            return nil
        }

        /// A string at `index` (on its opening quote). With `collect`, its unescaped UTF-8 bytes.
        mutating func string(collect: Bool) -> Result<[UInt8], Violation> {
            index += 1
            var output: [UInt8] = []
            var runStart = index
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    if collect { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
                    index += 1
                    return .success(output)
                case UInt8(ascii: "\\"):
                    if collect { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
                    index += 1
                    guard let escaped = next else { return .failure(fail("the JSON text ends inside a string")) }
                    index += 1
                    var simple: UInt8?
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): simple = escaped
                    case UInt8(ascii: "b"): simple = 0x08
                    case UInt8(ascii: "f"): simple = 0x0C
                    case UInt8(ascii: "n"): simple = 0x0A
                    case UInt8(ascii: "r"): simple = 0x0D
                    case UInt8(ascii: "t"): simple = 0x09
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return .failure(fail("a string has an invalid \\u escape")) }
                        if collect { output.append(contentsOf: String(Character(scalar)).utf8) }
                    default:
                        index -= 1
                        return .failure(fail("a string has an invalid escape"))
                    }
                    if collect, let simple { output.append(simple) }
                    runStart = index
                case 0x00..<0x20:
                    return .failure(fail("a string holds a control character that must be escaped"))
                case 0x00..<0x80:
                    index += 1
                default:
                    guard let length = utf8SequenceLength() else { return .failure(fail("the JSON text is not valid UTF-8")) }
                    index += length
                }
            }
            return .failure(fail("the JSON text ends inside a string"))
        }

        /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX` of its low half.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let high = hex4() else { return nil }
            if (0xD800..<0xDC00).contains(high) {
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    return nil
                }
                index += 2
                guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            }
            return Unicode.Scalar(high)  // nil for a lone low surrogate
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - index >= 4 else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        /// The length of the well-formed multi-byte UTF-8 sequence at `index` (RFC 3629 §4), or nil.
        func utf8SequenceLength() -> Int? {
            let lead = bytes[index]
            let remaining = bytes.count - index
            func continuation(_ offset: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
                offset < remaining && range.contains(bytes[index + offset])
            }
            switch lead {
            case 0xC2...0xDF: return continuation(1) ? 2 : nil
            case 0xE0: return continuation(1, 0xA0...0xBF) && continuation(2) ? 3 : nil
            case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : nil
            case 0xED: return continuation(1, 0x80...0x9F) && continuation(2) ? 3 : nil
            case 0xF0: return continuation(1, 0x90...0xBF) && continuation(2) && continuation(3) ? 4 : nil
            case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
            case 0xF4: return continuation(1, 0x80...0x8F) && continuation(2) && continuation(3) ? 4 : nil
            default: return nil
            }
        }
    }
}
