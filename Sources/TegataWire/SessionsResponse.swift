import Foundation

/// The body of `GET /v1/sessions`.
public struct SessionsResponse: Codable, Sendable, Equatable {
    /// The caller's live sessions, oldest first.
    public var sessions: [SessionInfo]

    /// Creates the body.
    public init(sessions: [SessionInfo]) { self.sessions = sessions }
}

/// One session as `GET /v1/sessions` lists it.
public struct SessionInfo: Codable, Sendable, Equatable {
    /// The session id (`sid`).
    public var id: String
    /// The platform the client declared.
    public var platform: String
    /// The device, for device sign-ins.
    public var deviceID: String?
    /// How the user signed in.
    public var amr: [String]
    /// When the session was opened.
    public var createdAt: Date
    /// When its refresh token was last used.
    public var lastRefreshedAt: Date
    /// True for the session of the access token making the request.
    public var current: Bool

    /// Creates an entry.
    public init(id: String, platform: String, deviceID: String?, amr: [String], createdAt: Date, lastRefreshedAt: Date, current: Bool) {
        self.id = id
        self.platform = platform
        self.deviceID = deviceID
        self.amr = amr
        self.createdAt = createdAt
        self.lastRefreshedAt = lastRefreshedAt
        self.current = current
    }

    enum CodingKeys: String, CodingKey {
        case id, platform, amr, current
        case deviceID = "device_id"
        case createdAt = "created_at"
        case lastRefreshedAt = "last_refreshed_at"
    }

    /// Encodes `device_id` as null when there is none, so the field is always present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(platform, forKey: .platform)
        try container.encode(deviceID, forKey: .deviceID)
        try container.encode(amr, forKey: .amr)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastRefreshedAt, forKey: .lastRefreshedAt)
        try container.encode(current, forKey: .current)
    }
}

/// The body of `POST /v1/logout`.
public struct LogoutRequest: Codable, Sendable, Equatable {
    /// `local` (default), `global` or `others`.
    public var scope: String?

    /// Creates the body.
    public init(scope: String?) { self.scope = scope }

    /// Decodes the body; `"scope": null` is refused, not taken as the default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        scope = try container.decodeIfPresentRefusingNull(String.self, forKey: .scope)
    }

    enum CodingKeys: String, CodingKey { case scope }
}
