import Foundation
import TegataTokens
import TegataWire

/// What the revocation feed has said, each entry kept until its `until`. Pure: the follower applies
/// feed pages to it and prunes it with its own `now`.
public struct RevocationList: Sendable, Equatable {
    private var sessions: [ID: Date] = [:]
    private var users: [ID: UserFloor] = [:]
    private var tokens: [ID: Date] = [:]

    /// An id with its hash computed once. Every probe of a lookup then compares two integers, and
    /// the text only when they match: with thousands of revoked sessions, comparing the 36-byte
    /// texts of the ids a probe passes over was most of the lookup.
    private struct ID: Hashable, Sendable {
        let hash: Int
        let text: String

        init(_ text: String) {
            hash = text.hashValue
            self.text = text
        }

        static func == (lhs: ID, rhs: ID) -> Bool { lhs.hash == rhs.hash && lhs.text == rhs.text }
        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

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
                if let sid = event.sid.map(ID.init) { sessions[sid] = max(sessions[sid] ?? .distantPast, event.until) }
            case "user":
                guard let sub = event.sub.map(ID.init), let tv = event.tv else { continue }
                let old = users[sub]
                users[sub] = UserFloor(tokenVersion: max(old?.tokenVersion ?? tv, tv), until: max(old?.until ?? .distantPast, event.until))
            case "token":
                if let jti = event.jti.map(ID.init) { tokens[jti] = max(tokens[jti] ?? .distantPast, event.until) }
            default:
                continue
            }
        }
    }

    /// True when the token's session, the token itself, or its user's token version was revoked.
    public func revokes(_ claims: AccessTokenClaims) -> Bool {
        // An empty table is not looked up: hashing the id is most of a lookup's cost, and most
        // lists hold sessions only.
        if !sessions.isEmpty, sessions[ID(claims.sid)] != nil { return true }
        if !tokens.isEmpty, tokens[ID(claims.jti)] != nil { return true }
        if !users.isEmpty, let floor = users[ID(claims.sub)], claims.tv < floor.tokenVersion { return true }
        return false
    }

    /// Drops the entries whose `until` has passed: no unexpired token can be affected by them.
    public mutating func prune(now: Date) {
        sessions = sessions.filter { $0.value >= now }
        tokens = tokens.filter { $0.value >= now }
        users = users.filter { $0.value.until >= now }
    }
}
