import Foundation

/// The body of `GET /v1/revocations`.
public struct RevocationFeed: Codable, Sendable, Equatable {
    /// Pass as `after` to get what comes next. Opaque.
    public var cursor: String
    /// What was revoked since the cursor.
    public var events: [FeedEvent]

    /// Creates the body.
    public init(cursor: String, events: [FeedEvent]) {
        self.cursor = cursor
        self.events = events
    }
}

/// One revocation: `{"type": "session", "sid", "until"}`, `{"type": "user", "sub", "tv", "until"}` or
/// `{"type": "token", "jti", "until"}`.
public struct FeedEvent: Codable, Sendable, Equatable {
    /// `session`, `user` or `token`.
    public var type: String
    /// The revoked session, for `session`.
    public var sid: String?
    /// The user, for `user`: access tokens with a `tv` below ``tv`` are revoked.
    public var sub: String?
    /// The user's new token version, for `user`.
    public var tv: Int64?
    /// The revoked access token, for `token`.
    public var jti: String?
    /// Until when the revocation matters (after that every token it affects has expired).
    public var until: Date

    /// Creates an event.
    public init(type: String, sid: String? = nil, sub: String? = nil, tv: Int64? = nil, jti: String? = nil, until: Date) {
        self.type = type
        self.sid = sid
        self.sub = sub
        self.tv = tv
        self.jti = jti
        self.until = until
    }
}
