import Foundation

/// The body of `GET /v1/me`.
public struct MeResponse: Codable, Sendable, Equatable {
    /// The user id.
    public var id: String
    /// True for an anonymous device-only user.
    public var anon: Bool
    /// When the user was created.
    public var createdAt: Date
    /// External identities linked to the user.
    public var identities: [IdentitySummary]
    /// Entitlements that have not expired, by name.
    public var ent: [String: EntitlementGrant]

    /// Creates a `/v1/me` body.
    public init(id: String, anon: Bool, createdAt: Date, identities: [IdentitySummary], ent: [String: EntitlementGrant]) {
        self.id = id
        self.anon = anon
        self.createdAt = createdAt
        self.identities = identities
        self.ent = ent
    }

    enum CodingKeys: String, CodingKey {
        case id, anon, identities, ent
        case createdAt = "created_at"
    }
}

/// An external identity linked to a user.
public struct IdentitySummary: Codable, Sendable, Equatable {
    /// The configured provider name (`apple`, `google`, `line`, …).
    public var provider: String
    /// The provider's subject identifier.
    public var subject: String

    /// Creates an identity summary.
    public init(provider: String, subject: String) {
        self.provider = provider
        self.subject = subject
    }
}

/// One entitlement as tokens and `/v1/me` carry it: `true` when it does not expire,
/// else `{"expires_at": <unix seconds>}`.
public enum EntitlementGrant: Codable, Sendable, Equatable {
    /// Granted with no end.
    case unlimited
    /// Granted until the given Unix time (seconds).
    case until(Int64)

    private struct Expiry: Codable { var expiresAt: Int64
        enum CodingKeys: String, CodingKey { case expiresAt = "expires_at" }
    }

    /// Decodes `true` or `{"expires_at": n}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            guard flag else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "an entitlement is true or an expiry")
            }
            self = .unlimited
        } else {
            self = .until(try container.decode(Expiry.self).expiresAt)
        }
    }

    /// Encodes `true` or `{"expires_at": n}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .unlimited: try container.encode(true)
        case .until(let at): try container.encode(Expiry(expiresAt: at))
        }
    }
}
