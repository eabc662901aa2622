import Foundation

/// Any JSON value: what an app claim may hold.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// A number that is an integer in Int64's range.
    case integer(Int64)
    /// Any other (finite) number.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            guard value.isFinite else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "a number out of range")
            }
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value as compact JSON, object keys sorted.
    public var description: String {
        var writer = JSONWriter()
        writer.value(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

extension JSONWriter {
    /// Writes any JSON value, object keys sorted (as ``WireCoding/makeEncoder()`` writes it).
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let value): bool(value)
        case .integer(let value): integer(value)
        case .number(let value): number(value)
        case .string(let value): string(value)
        case .array(let values):
            beginArray()
            for element in values {
                self.element()
                self.value(element)
            }
            endArray()
        case .object(let members):
            beginObject()
            for name in members.keys.sorted() {
                key(name)
                self.value(members[name]!)
            }
            endObject()
        }
    }

    /// Writes the members of `members` into the open object, names sorted.
    public mutating func members(_ members: [String: JSONValue]) {
        for name in members.keys.sorted() {
            key(name)
            value(members[name]!)
        }
    }
}

/// The rules for app claims: the claims an operator (or a sign-in hook) puts in a user's access
/// tokens beside Tegata's own. A JSON object of at most ``maximumBytes`` serialised, whose names are
/// none that Tegata, JWT (RFC 7519), OAuth access tokens (RFC 9068), introspection (RFC 7662),
/// token exchange (RFC 8693), DPoP (RFC 9449) or OpenID Connect define with a meaning of their own.
public enum AppClaimRules {
    /// The most bytes the claims may take serialised (compact JSON, keys sorted), as Firebase's
    /// custom claims do.
    public static let maximumBytes = 1000

    /// Names an app claim may not have: every claim Tegata writes or may write, and the registered
    /// claims whose meaning a verifier would take from them. `roles`, `groups` and `entitlements`
    /// (RFC 9068 §2.2.3.1) stay open: they are what app claims are for.
    public static let reservedNames: Set<String> = [
        // RFC 7519
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
        // Tegata's own
        "sid", "client_id", "amr", "anon", "tv", "ent",
        // RFC 9068, RFC 8693, RFC 9449, RFC 7800
        "scope", "acr", "auth_time", "act", "may_act", "cnf",
        // RFC 7662 introspection answers
        "active", "token_type", "username",
        // OpenID Connect
        "azp", "nonce", "at_hash", "c_hash", "s_hash", "typ",
    ]

    /// Why a claims object is refused; the message names the claim.
    public struct Violation: Error, Sendable, Equatable {
        /// A human text, safe to send back.
        public let message: String
    }

    /// Checks `claims` and gives their serialised form.
    public static func check(_ claims: [String: JSONValue]) throws(Violation) -> [UInt8] {
        for name in claims.keys.sorted() {
            if reservedNames.contains(name) {
                throw Violation(message: "the claim \(name) is reserved: Tegata sets it, or a registered claim of that name means something else")
            }
            guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                throw Violation(message: "claim names must be 1 to 64 bytes without control characters")
            }
        }
        var writer = JSONWriter()
        writer.value(.object(claims))
        guard writer.bytes.count <= maximumBytes else {
            throw Violation(message: "the claims take \(writer.bytes.count) bytes serialised; at most \(maximumBytes) are allowed")
        }
        return writer.bytes
    }

    /// The app claims of an object being decoded: its members that are neither `Known` (the
    /// shape's own fields) nor reserved names.
    public static func decodeAppClaims<Known: CodingKey>(from decoder: any Decoder, besides _: Known.Type) throws -> [String: JSONValue] {
        let all = try decoder.container(keyedBy: NamedKey.self)
        var app: [String: JSONValue] = [:]
        for key in all.allKeys where Known(stringValue: key.stringValue) == nil && !reservedNames.contains(key.stringValue) {
            app[key.stringValue] = try all.decode(JSONValue.self, forKey: key)
        }
        return app
    }

    /// Writes app claims as members of the object being encoded, beside its own fields.
    public static func encode(_ app: [String: JSONValue], to encoder: any Encoder) throws {
        guard !app.isEmpty else { return }
        var members = encoder.container(keyedBy: NamedKey.self)
        for (name, value) in app {
            try members.encode(value, forKey: NamedKey(name))
        }
    }

    /// The stored form of checked claims: compact JSON, keys sorted; nil for none.
    public static func storedText(_ claims: [String: JSONValue]) -> String? {
        guard !claims.isEmpty else { return nil }
        var writer = JSONWriter()
        writer.value(.object(claims))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The claims of their stored form (nil: none).
    public static func claims(storedText text: String?) throws -> [String: JSONValue] {
        guard let text, !text.isEmpty else { return [:] }
        return try JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8))
    }
}
