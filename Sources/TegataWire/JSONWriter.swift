import Foundation

/// Writes JSON objects directly into bytes, for the shapes on the hot path (token responses and
/// access-token claims) where `JSONEncoder` costs more than the rest of the response. The output is
/// what ``WireCoding/makeEncoder()`` writes: keys in the order given (callers give them sorted),
/// `/` unescaped, RFC 3339 dates in whole seconds, UTC.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// Members or elements written so far in each open object or array, innermost last.
    private var members: [Int] = []

    /// Starts empty.
    public init() {
        bytes.reserveCapacity(512)
    }

    /// Opens an object (at the top level, or as the value after ``key(_:)``).
    public mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        members.append(0)
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        members.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    /// Opens an array; write each element after ``element()``.
    public mutating func beginArray() {
        bytes.append(UInt8(ascii: "["))
        members.append(0)
    }

    /// Starts the next array element.
    public mutating func element() {
        if let count = members.last {
            if count > 0 { bytes.append(UInt8(ascii: ",")) }
            members[members.count - 1] = count + 1
        }
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        members.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes a member name; the next value written is its value.
    public mutating func key(_ name: String) {
        element()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        appendString(value)
    }

    /// Writes an integer value.
    public mutating func integer(_ value: some BinaryInteger) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Writes `null`.
    public mutating func null() {
        bytes.append(contentsOf: "null".utf8)
    }

    /// Writes a finite number in its shortest form that reads back the same (`1.5`, `1e+20`), an
    /// integral one without a fraction, as `JSONEncoder` does.
    public mutating func number(_ value: Double) {
        var text = "\(value)"
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Writes a date as RFC 3339 in whole seconds, UTC (`2026-11-21T09:30:00Z`).
    public mutating func date(_ value: Date) {
        var seconds = time_t(value.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ number: Int32) -> String { number < 10 ? "0\(number)" : "\(number)" }
        let year = String(parts.tm_year + 1900)
        let text = "\(year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: text.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes an array of strings.
    public mutating func strings(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            appendString(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A wire shape that writes its own JSON, byte for byte what ``WireCoding/makeEncoder()`` would.
public protocol JSONWritable: Encodable {
    /// Writes this value.
    func write(to writer: inout JSONWriter)
}

extension JSONWritable {
    /// The JSON bytes of this value.
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }
}

extension ErrorBody: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("error")
        writer.string(error.rawValue)
        if let errorDescription {
            writer.key("error_description")
            writer.string(errorDescription)
        }
        writer.endObject()
    }
}

extension TokenResponse: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("access_token"); writer.string(accessToken)
        writer.key("expires_in"); writer.integer(expiresIn)
        if let issuedTokenType { writer.key("issued_token_type"); writer.string(issuedTokenType) }
        writer.key("refresh_expires_in"); writer.integer(refreshExpiresIn)
        writer.key("refresh_token"); writer.string(refreshToken)
        writer.key("token_type"); writer.string(tokenType)
        writer.key("user"); user.write(to: &writer)
        writer.endObject()
    }
}

extension UserSummary: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("anon"); writer.bool(anon)
        writer.key("created_at"); writer.date(createdAt)
        writer.key("id"); writer.string(id)
        writer.endObject()
    }
}

extension EntitlementGrant: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .unlimited:
            writer.bool(true)
        case .until(let at):
            writer.beginObject()
            writer.key("expires_at"); writer.integer(at)
            writer.endObject()
        }
    }
}

extension MeResponse: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("anon"); writer.bool(anon)
        writer.key("created_at"); writer.date(createdAt)
        writer.key("ent"); writer.entitlements(ent)
        writer.key("id"); writer.string(id)
        writer.key("identities")
        writer.beginArray()
        for identity in identities {
            writer.element()
            writer.beginObject()
            writer.key("provider"); writer.string(identity.provider)
            writer.key("subject"); writer.string(identity.subject)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }
}

extension JSONWriter {
    /// Writes entitlements as an object keyed by name, names sorted.
    public mutating func entitlements(_ grants: [String: EntitlementGrant]) {
        beginObject()
        for name in grants.keys.sorted() {
            key(name)
            grants[name]!.write(to: &self)
        }
        endObject()
    }
}
