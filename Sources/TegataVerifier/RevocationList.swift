import Foundation
import TegataTokens
import TegataWire

/// What the revocation feed has said, each entry kept until its `until`. Pure: the follower applies
/// feed pages to it and prunes it with its own `now`.
public struct RevocationList: Sendable, Equatable {
    private var sessions: [String: Date] = [:]
    private var users: [String: UserFloor] = [:]
    private var tokens: [String: Date] = [:]

    private struct UserFloor: Sendable, Equatable {
        var tokenVersion: Int64
        var until: Date
    }

    /// An empty list.
    public init() {}

    /// How many entries are held.
    public var count: Int { sessions.count + users.count + tokens.count }

    /// Applies feed events. Unknown event types are ignored (a newer server may add some).
    public mutating func apply(_ events: [FeedEvent]) {
        for event in events {
            switch event.type {
            case "session":
                if let sid = event.sid { sessions[sid] = max(sessions[sid] ?? .distantPast, event.until) }
            case "user":
                guard let sub = event.sub, let tv = event.tv else { continue }
                let old = users[sub]
                users[sub] = UserFloor(tokenVersion: max(old?.tokenVersion ?? tv, tv), until: max(old?.until ?? .distantPast, event.until))
            case "token":
                if let jti = event.jti { tokens[jti] = max(tokens[jti] ?? .distantPast, event.until) }
            default:
                continue
            }
        }
    }

    /// True when the token's session, the token itself, or its user's token version was revoked.
    public func revokes(_ claims: AccessTokenClaims) -> Bool {
        if sessions[claims.sid] != nil || tokens[claims.jti] != nil { return true }
        if let floor = users[claims.sub], claims.tv < floor.tokenVersion { return true }
        return false
    }

    /// Drops the entries whose `until` has passed: no unexpired token can be affected by them.
    public mutating func prune(now: Date) {
        sessions = sessions.filter { $0.value >= now }
        tokens = tokens.filter { $0.value >= now }
        users = users.filter { $0.value.until >= now }
    }
}
