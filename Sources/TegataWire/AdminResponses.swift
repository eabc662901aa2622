import Foundation

/// The body of `GET /admin/v1/users/{id}`.
public struct AdminUserResponse: Codable, Sendable, Equatable {
    /// The user id.
    public var id: String
    /// True while the user has no linked identity.
    public var anon: Bool
    /// When the user was created.
    public var createdAt: Date
    /// The token version (access tokens with an older `tv` are dead).
    public var tokenVersion: Int64
    /// Linked identities.
    public var identities: [AdminIdentity]
    /// Registered devices, revoked ones too.
    public var devices: [AdminDevice]
    /// Entitlements that have not expired, by name.
    public var ent: [String: EntitlementGrant]
    /// The disablement in force; null while the user is enabled.
    public var disabled: AdminDisablement?
    /// The app claims its access tokens carry (`{}` for none).
    public var claims: [String: JSONValue]

    /// Creates the body.
    public init(
        id: String, anon: Bool, createdAt: Date, tokenVersion: Int64, identities: [AdminIdentity], devices: [AdminDevice],
        ent: [String: EntitlementGrant], disabled: AdminDisablement? = nil, claims: [String: JSONValue] = [:]
    ) {
        self.claims = claims
        self.id = id
        self.anon = anon
        self.createdAt = createdAt
        self.tokenVersion = tokenVersion
        self.identities = identities
        self.devices = devices
        self.ent = ent
        self.disabled = disabled
    }

    enum CodingKeys: String, CodingKey {
        case id, anon, identities, devices, ent, disabled, claims
        case createdAt = "created_at", tokenVersion = "token_version"
    }

    /// Every field, absent values as null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(anon, forKey: .anon)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(tokenVersion, forKey: .tokenVersion)
        try container.encode(identities, forKey: .identities)
        try container.encode(devices, forKey: .devices)
        try container.encode(ent, forKey: .ent)
        try container.encode(disabled, forKey: .disabled)
        try container.encode(claims, forKey: .claims)
    }
}

/// A disablement as the admin API shows it: since when, and until when (null: until enabled).
public struct AdminDisablement: Codable, Sendable, Equatable {
    /// When the user was disabled.
    public var since: Date
    /// When the disablement lapses by itself; null for never.
    public var until: Date?

    /// Creates an entry.
    public init(since: Date, until: Date?) {
        self.since = since
        self.until = until
    }

    /// Both fields, `until` as null when absent.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(since, forKey: .since)
        try container.encode(until, forKey: .until)
    }

    enum CodingKeys: String, CodingKey { case since, until }
}

/// The body of `POST /admin/v1/users/{id}/disable`, optional: `{"until": "<RFC 3339>"}`.
public struct AdminDisableRequest: Codable, Sendable, Equatable {
    /// When the disablement lapses by itself; absent: until enabled.
    public var until: Date?

    /// Creates a body.
    public init(until: Date? = nil) {
        self.until = until
    }
}

/// A linked identity as the admin API shows it.
public struct AdminIdentity: Codable, Sendable, Equatable {
    /// The configured provider name.
    public var provider: String
    /// The provider's subject.
    public var subject: String
    /// The e-mail address, where the provider's is kept (`store_email`); null otherwise.
    public var email: String?
    /// When it was linked.
    public var linkedAt: Date

    /// Creates an entry.
    public init(provider: String, subject: String, email: String?, linkedAt: Date) {
        self.provider = provider
        self.subject = subject
        self.email = email
        self.linkedAt = linkedAt
    }

    enum CodingKeys: String, CodingKey {
        case provider, subject, email
        case linkedAt = "linked_at"
    }

    /// Writes `email` as null when there is none: every field is always present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(provider, forKey: .provider)
        try container.encode(subject, forKey: .subject)
        try container.encode(email, forKey: .email)
        try container.encode(linkedAt, forKey: .linkedAt)
    }
}

/// A registered device as the admin API shows it (never its secret).
public struct AdminDevice: Codable, Sendable, Equatable {
    /// The device id.
    public var id: String
    /// The platform it declared.
    public var platform: String
    /// When it was registered.
    public var createdAt: Date
    /// When it last signed in.
    public var lastSignInAt: Date
    /// When its registration was revoked; null while it can sign in.
    public var revokedAt: Date?

    /// Creates an entry.
    public init(id: String, platform: String, createdAt: Date, lastSignInAt: Date, revokedAt: Date?) {
        self.id = id
        self.platform = platform
        self.createdAt = createdAt
        self.lastSignInAt = lastSignInAt
        self.revokedAt = revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, platform
        case createdAt = "created_at", lastSignInAt = "last_sign_in_at", revokedAt = "revoked_at"
    }

    /// Writes `revoked_at` as null when the device is not revoked.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(platform, forKey: .platform)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastSignInAt, forKey: .lastSignInAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}

/// The body of `GET /admin/v1/users/{id}/sessions`.
public struct AdminSessionsResponse: Codable, Sendable, Equatable {
    /// Every stored session of the user, ended ones too (until pruned), oldest first.
    public var sessions: [AdminSession]

    /// Creates the body.
    public init(sessions: [AdminSession]) { self.sessions = sessions }
}

/// A session as the admin API shows it.
public struct AdminSession: Codable, Sendable, Equatable {
    /// The session id.
    public var id: String
    /// The platform the client declared.
    public var platform: String
    /// The device, for device sign-ins; null otherwise.
    public var deviceID: String?
    /// How the user signed in.
    public var amr: [String]
    /// When it was opened.
    public var createdAt: Date
    /// When it was last refreshed or used.
    public var lastRefreshedAt: Date
    /// When it ends whatever happens.
    public var absoluteExpiresAt: Date
    /// When it was revoked; null while it is not.
    public var revokedAt: Date?

    /// Creates an entry.
    public init(
        id: String, platform: String, deviceID: String?, amr: [String], createdAt: Date, lastRefreshedAt: Date,
        absoluteExpiresAt: Date, revokedAt: Date?
    ) {
        self.id = id
        self.platform = platform
        self.deviceID = deviceID
        self.amr = amr
        self.createdAt = createdAt
        self.lastRefreshedAt = lastRefreshedAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.revokedAt = revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, platform, amr
        case deviceID = "device_id", createdAt = "created_at", lastRefreshedAt = "last_refreshed_at"
        case absoluteExpiresAt = "absolute_expires_at", revokedAt = "revoked_at"
    }

    /// Writes absent values as null: every field is always present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(platform, forKey: .platform)
        try container.encode(deviceID, forKey: .deviceID)
        try container.encode(amr, forKey: .amr)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastRefreshedAt, forKey: .lastRefreshedAt)
        try container.encode(absoluteExpiresAt, forKey: .absoluteExpiresAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}

/// The body of `GET /admin/v1/users`.
public struct AdminUsersResponse: Codable, Sendable, Equatable {
    /// One page of the users found, oldest first.
    public var users: [AdminUserSummary]
    /// Pass as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    /// Creates the body.
    public init(users: [AdminUserSummary], nextCursor: String?) {
        self.users = users
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case users
        case nextCursor = "next_cursor"
    }

    /// Writes `next_cursor` as null on the last page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(users, forKey: .users)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// A user in a list of the admin API.
public struct AdminUserSummary: Codable, Sendable, Equatable {
    /// The user id.
    public var id: String
    /// True while the user has no linked identity.
    public var anon: Bool
    /// When the user was created.
    public var createdAt: Date

    /// Creates an entry.
    public init(id: String, anon: Bool, createdAt: Date) {
        self.id = id
        self.anon = anon
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, anon
        case createdAt = "created_at"
    }
}

/// An entitlement as stored, expired ones included (an export).
public struct AdminEntitlement: Codable, Sendable, Equatable {
    /// Its name.
    public var name: String
    /// When it ends; null for no end.
    public var expiresAt: Date?

    /// Creates an entry.
    public init(name: String, expiresAt: Date?) {
        self.name = name
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case name
        case expiresAt = "expires_at"
    }

    /// Both fields, `expires_at` as null when absent.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(expiresAt, forKey: .expiresAt)
    }
}

/// `POST /admin/v1/users/import` answer: one result per element of `users`, in order, and how many
/// of each there were.
public struct AdminImportResponse: Codable, Sendable, Equatable {
    /// Per record, in the order given.
    public var results: [AdminImportResult]
    /// Users created.
    public var created: Int
    /// Existing users that got what they lacked.
    public var updated: Int
    /// Records that changed nothing (already imported).
    public var unchanged: Int
    /// Records refused because part of them belongs to another user.
    public var conflict: Int
    /// Malformed records.
    public var invalid: Int

    /// Creates the answer from the results, counting them.
    public init(results: [AdminImportResult]) {
        self.results = results
        func count(_ name: String) -> Int { results.count { $0.result == name } }
        created = count("created")
        updated = count("updated")
        unchanged = count("unchanged")
        conflict = count("conflict")
        invalid = count("invalid")
    }
}

/// What importing one record did.
public struct AdminImportResult: Codable, Sendable, Equatable {
    /// The element's position in `users`.
    public var index: Int
    /// The record's id, when it had a well-formed one.
    public var id: String?
    /// `created`, `updated`, `unchanged`, `conflict` or `invalid`.
    public var result: String
    /// Why, for `conflict` and `invalid`: the part of the record (never its values).
    public var reason: String?

    /// Creates a result.
    public init(index: Int, id: String?, result: String, reason: String?) {
        self.index = index
        self.id = id
        self.result = result
        self.reason = reason
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(id, forKey: .id)
        try container.encode(result, forKey: .result)
        try container.encode(reason, forKey: .reason)
    }

    enum CodingKeys: String, CodingKey { case index, id, result, reason }
}
