import Foundation

/// One security-relevant action, for the audit trail: who (user, session, client address), what
/// (``type``, ``details``), how it ended (``outcome``), when, and the request it came from.
///
/// Never a token, a secret, a device id or a device secret: ``details`` holds only names and
/// values the server chose (a method, a scope, a provider's name, a key id, a policy's name).
public struct AuditEvent: Sendable, Equatable, Codable {
    /// A random id (a UUID), unique per event.
    public var id: String
    /// When the action happened (the server's clock).
    public var time: Date
    /// What happened.
    public var type: AuditEventType
    /// Whether it was done or refused.
    public var outcome: AuditOutcome
    /// The user it concerns, when one is known.
    public var userID: String?
    /// The session it concerns, when one is known.
    public var sessionID: String?
    /// The client's address (after trusted proxies), when the action came over HTTP.
    public var clientAddress: String?
    /// The request's id (`X-Request-Id`), when the action came over HTTP.
    public var requestID: String?
    /// What else the type names: see ``AuditEventType``.
    public var details: [String: String]

    /// Creates an event.
    public init(
        id: String? = nil, time: Date, type: AuditEventType, outcome: AuditOutcome = .success,
        userID: String? = nil, sessionID: String? = nil, clientAddress: String? = nil, requestID: String? = nil,
        details: [String: String] = [:]
    ) {
        // Time-ordered by default: the audit table's key, inserted as events happen.
        self.id = id ?? RandomID.timeOrderedUUID(now: time)
        // Whole milliseconds, as the stores keep it: an event read back equals the one written.
        self.time = Date(timeIntervalSince1970: (time.timeIntervalSince1970 * 1000).rounded() / 1000)
        self.type = type
        self.outcome = outcome
        // An empty value is no value (the PostgreSQL store writes absent values as empty strings).
        func given(_ text: String?) -> String? { text?.isEmpty == false ? text : nil }
        self.userID = given(userID)
        self.sessionID = given(sessionID)
        self.clientAddress = given(clientAddress)
        self.requestID = given(requestID)
        self.details = details
    }

    /// An event of a request from `origin`.
    public init(
        _ type: AuditEventType, outcome: AuditOutcome = .success, at time: Date, origin: RequestOrigin,
        userID: String? = nil, sessionID: String? = nil, details: [String: String] = [:]
    ) {
        self.init(
            time: time, type: type, outcome: outcome, userID: userID, sessionID: sessionID,
            clientAddress: origin.address, requestID: origin.requestID, details: details)
    }

    enum CodingKeys: String, CodingKey {
        case id, time, type, outcome, details
        case userID = "user_id", sessionID = "session_id", clientAddress = "client_address", requestID = "request_id"
    }

    /// Every field is written, absent ones as `null`: each line of the trail has the same shape.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(time, forKey: .time)
        try container.encode(type, forKey: .type)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(userID, forKey: .userID)
        try container.encode(sessionID, forKey: .sessionID)
        try container.encode(clientAddress, forKey: .clientAddress)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(details, forKey: .details)
    }
}

/// The kinds of ``AuditEvent``, and the ``AuditEvent/details`` each carries.
public enum AuditEventType: String, Sendable, Codable, CaseIterable {
    /// A sign-in: `method` (`device` or a provider's name), `new_user` (`true`/`false`) when it
    /// succeeded, `reason` when it was refused (`wrong_secret`, `device_revoked`, `invalid_token`,
    /// `replayed`, `unavailable`).
    case signIn = "sign_in"
    /// An external identity linked to the user: `provider`, `created` (a new link or one already there).
    case identityLinked = "identity_linked"
    /// An external identity unlinked: `provider`.
    case identityUnlinked = "identity_unlinked"
    /// `POST /v1/logout`: `scope` (`local`, `global`, `others`).
    case logout
    /// One session ended: `via` (`sessions_endpoint`, `web_session`).
    case sessionRevoked = "session_revoked"
    /// RFC 7009 revocation: `token_type` (`refresh_token`: its session ended; `access_token`).
    case tokenRevoked = "token_revoked"
    /// A spent refresh token presented outside the grace rule: the session (``AuditEvent/sessionID``) was revoked.
    case refreshReplay = "refresh_replay"
    /// The account and everything of it deleted (`DELETE /v1/me`).
    case accountDeleted = "account_deleted"
    /// A new signing key: `kid`, `signs_from`, `immediate`.
    case signingKeyRotated = "signing_key_rotated"
    /// A payment webhook event applied: `source`, `event_type`, `event_id`, `result`.
    case webhookApplied = "webhook_applied"
    /// A rate limit began refusing a client address: `policy`. Written once per policy and address
    /// per minute while it refuses, not once per refused request.
    case rateLimited = "rate_limited"
    /// A request to the admin API: `action` (method and route), `status`; refused ones too.
    case adminAction = "admin_action"
    /// A user an import created or updated (`result`: `created`, `updated`; `via`: `cli` from the CLI).
    case userImported = "user_imported"
    /// A legacy device claim (`POST /v1/auth/device/claim`): `result` (`claimed`; `signed_in` for a
    /// claim of a device that had that secret already), or `reason` when it was refused
    /// (`window_closed`, `unknown_device`, `wrong_user`, `already_claimed`, `device_revoked`,
    /// `user_disabled`, `hook_failed`). The user is the device's, where there is one.
    case deviceClaimed = "device_claimed"
}

/// Whether an audited action was done.
public enum AuditOutcome: String, Sendable, Codable, CaseIterable {
    case success, failure
}

/// Where audit events go. Called after the action is committed; must not block.
public protocol AuditSink: Sendable {
    /// Records one event.
    func record(_ event: AuditEvent)
}

/// Drops every event (in-process callers without a server).
public struct NoAuditSink: AuditSink {
    /// Creates the sink.
    public init() {}
    /// Does nothing.
    public func record(_ event: AuditEvent) {}
}

/// What to read from the audit table: newest first.
public struct AuditQuery: Sendable, Equatable {
    /// Only this user's events.
    public var userID: String?
    /// Only events of this type.
    public var type: AuditEventType?
    /// Only events at or after this time.
    public var since: Date?
    /// Only events before this time (exclusive): the `time` of a page's last event gives the next page.
    public var until: Date?
    /// At most this many (1…1000).
    public var limit: Int

    /// Creates a query.
    public init(userID: String? = nil, type: AuditEventType? = nil, since: Date? = nil, until: Date? = nil, limit: Int = 100) {
        self.userID = userID
        self.type = type
        self.since = since
        self.until = until
        self.limit = min(max(limit, 1), 1000)
    }
}

/// The audit table (when the operator keeps one).
public protocol AuditStore: Sendable {
    /// Appends events, all in one transaction. An event whose id is already there is skipped.
    func appendAuditEvents(_ events: [AuditEvent]) async throws
    /// Events matching `query`, newest first (by time, then id).
    func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent]
    /// Deletes at most `limit` events older than `before`; returns how many.
    func pruneAuditEvents(before: Date, limit: Int) async throws -> Int
}

/// An event's ``AuditEvent/details`` as the stores keep them: a JSON object of strings, keys sorted.
public enum AuditDetails {
    /// The JSON text of `details`.
    public static func encode(_ details: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(details), as: UTF8.self)
    }

    /// The details of JSON text written by ``encode(_:)``.
    public static func decode(_ text: String) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }
}
