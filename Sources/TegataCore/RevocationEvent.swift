import Foundation

/// One entry of the revocation feed: something that makes access tokens invalid before their `exp`.
/// Kept until the longest access token it can affect has expired.
public struct RevocationEvent: Sendable, Equatable {
    /// What was revoked.
    public enum Kind: Sendable, Equatable {
        /// A session: every access token with this `sid`.
        case session(sid: String)
        /// A user's token version moved (global logout, deletion): every access token with this `sub`
        /// and a `tv` below `tokenVersion`.
        case user(sub: String, tokenVersion: Int64)
        /// One access token, by `jti` (RFC 7009 revocation of an access token).
        case token(jti: String)
    }

    /// The event's position in the feed; the cursor is built from it.
    public var sequence: Int64
    /// What was revoked.
    public var kind: Kind
    /// Until when it matters (the end of the longest access token it can affect).
    public var until: Date

    /// Creates an event.
    public init(sequence: Int64, kind: Kind, until: Date) {
        self.sequence = sequence
        self.kind = kind
        self.until = until
    }
}
