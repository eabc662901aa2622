import Hummingbird

/// What a request body's `Content-Type` says it is (RFC 9110 §8.3), as far as Tegata cares: JSON
/// (`application/json` or `application/*+json`, with no charset or UTF-8, RFC 8259 §8.1), a form
/// (`application/x-www-form-urlencoded`), something else, or nothing said.
package enum BodyMediaType: Equatable {
    case json
    case form
    case other
    case unspecified

    /// The media type of `request`'s body. Several `Content-Type` fields are `other`.
    init(of request: Request) {
        let values = request.headers[values: .contentType]
        switch values.count {
        case 0: self = .unspecified
        case 1: self = Self(contentType: values[0])
        default: self = .other
        }
    }

    /// Parses one `Content-Type` value: `type/subtype *(; name=value)`, case-insensitive names.
    package init(contentType: String) {
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
        let essence = parts[0].trimmingASCIIWhitespace().lowercased()
        let slash = essence.firstIndex(of: "/")
        guard let slash, essence[..<slash] == "application" else {
            self = .other
            return
        }
        let subtype = essence[essence.index(after: slash)...]
        if subtype == "x-www-form-urlencoded" {
            self = .form
            return
        }
        guard subtype == "json" || (subtype.hasSuffix("+json") && subtype.count > 5) else {
            self = .other
            return
        }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            guard pair[0].trimmingASCIIWhitespace().lowercased() == "charset" else { continue }
            var value = pair[1].trimmingASCIIWhitespace()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
            guard value.lowercased() == "utf-8" else {
                self = .other
                return
            }
        }
        self = .json
    }
}

extension StringProtocol {
    /// Without the spaces and tabs at either end (RFC 9110 OWS).
    func trimmingASCIIWhitespace() -> SubSequence {
        let isWhitespace = { (character: Character) in character == " " || character == "\t" }
        guard let first = firstIndex(where: { !isWhitespace($0) }) else { return self[endIndex...] }
        let last = lastIndex(where: { !isWhitespace($0) })!
        return self[first...last]
    }
}
