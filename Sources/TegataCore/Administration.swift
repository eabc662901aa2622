import Foundation
import TegataWire

/// A device registered to a user, as operators see it (never its secret).
public struct DeviceSummary: Sendable, Equatable {
    /// The device id the client chose.
    public var id: String
    /// The platform it declared at registration.
    public var platform: String
    /// When it was registered.
    public var createdAt: Date
    /// When it last signed in.
    public var lastSignInAt: Date
    /// When its registration was revoked (it cannot sign in again); nil while it can.
    public var revokedAt: Date?

    /// Creates a device summary.
    public init(id: String, platform: String, createdAt: Date, lastSignInAt: Date, revokedAt: Date?) {
        self.id = id
        self.platform = platform
        self.createdAt = createdAt
        self.lastSignInAt = lastSignInAt
        self.revokedAt = revokedAt
    }
}

/// Which users an operator looks for: every filter given must match. Ordered by creation time,
/// then id; a page continues after ``after``.
public struct UserQuery: Sendable, Equatable {
    /// Users with this linked identity (both or neither of provider and subject).
    public var identity: (provider: String, subject: String)?
    /// The user this device is registered to.
    public var deviceID: String?
    /// Created at or after this time.
    public var createdAfter: Date?
    /// Created before this time.
    public var createdBefore: Date?
    /// Where the previous page ended.
    public var after: UserCursor?
    /// At most this many (1…100).
    public var limit: Int

    /// Creates a query.
    public init(
        identity: (provider: String, subject: String)? = nil, deviceID: String? = nil, createdAfter: Date? = nil,
        createdBefore: Date? = nil, after: UserCursor? = nil, limit: Int = 50
    ) {
        self.identity = identity
        self.deviceID = deviceID
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.after = after
        self.limit = min(max(limit, 1), 100)
    }

    public static func == (lhs: UserQuery, rhs: UserQuery) -> Bool {
        lhs.identity?.provider == rhs.identity?.provider && lhs.identity?.subject == rhs.identity?.subject
            && lhs.deviceID == rhs.deviceID && lhs.createdAfter == rhs.createdAfter && lhs.createdBefore == rhs.createdBefore
            && lhs.after == rhs.after && lhs.limit == rhs.limit
    }
}

/// Where a page of users ended: the last user's creation time (milliseconds) and id. On the wire,
/// `<milliseconds>_<id>`; any other text is refused.
public struct UserCursor: Sendable, Hashable, CustomStringConvertible {
    /// The last user's creation time.
    public var createdAt: Date
    /// The last user's id.
    public var userID: String

    /// Creates a cursor after `user`.
    public init(after user: User) {
        createdAt = user.createdAt
        userID = user.id
    }

    /// The cursor of its wire form; nil for anything else.
    public init?(rawValue: String) {
        guard rawValue.utf8.count <= 200, let separator = rawValue.firstIndex(of: "_"),
              let milliseconds = Int64(rawValue[..<separator]), milliseconds >= 0,
              rawValue[..<separator].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        let id = String(rawValue[rawValue.index(after: separator)...])
        guard UserID.isWellFormed(id) else { return nil }
        createdAt = Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
        userID = id
    }

    /// The wire form.
    public var rawValue: String { "\(Int64((createdAt.timeIntervalSince1970 * 1000).rounded()))_\(userID)" }
    /// The wire form.
    public var description: String { rawValue }
}

/// One page of users found.
public struct UserPage: Sendable, Equatable {
    /// The users, oldest first.
    public var users: [User]
    /// Where the next page begins; nil when this is the last.
    public var next: UserCursor?

    /// Creates a page.
    public init(users: [User], next: UserCursor?) {
        self.users = users
        self.next = next
    }

    /// The page of `fetched` (a store's read of up to `limit` + 1 users): the first `limit`, and a
    /// cursor when there was one more.
    public static func of(_ fetched: [User], limit: Int) -> UserPage {
        let users = Array(fetched.prefix(limit))
        return UserPage(users: users, next: fetched.count > limit ? users.last.map(UserCursor.init(after:)) : nil)
    }
}

/// What a user id may look like on the admin API: 1 to 128 characters of `A-Z a-z 0-9 - . _ ~ :`
/// (Tegata's own ids are lower-case UUIDs). Anything else is a malformed id, refused with 400
/// before the store is asked.
public enum UserID {
    /// Whether `text` is a well-formed id.
    public static func isWellFormed(_ text: some StringProtocol) -> Bool {
        (1...128).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
                true
            default:
                false
            }
        }
    }
}

/// What an operator does to users and sessions: the admin API's routes and the CLI's commands go
/// through this one service, so both keep the same rules, feed events and device revocations.
public struct Administration: Sendable {
    /// Users and sessions live here.
    public let store: any AccountStore & SessionStore
    /// Token lifetimes (for how long revocations are remembered).
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock

    /// Creates the service.
    public init(store: any AccountStore & SessionStore, policy: TokenPolicy, clock: any TegataClock) {
        self.store = store
        self.policy = policy
        self.clock = clock
    }

    /// A user as operators see it.
    public struct UserDetails: Sendable, Equatable {
        /// The user record (user, identity summaries, entitlements).
        public var record: UserRecord
        /// Linked identities with their link times (and e-mail, where the provider's is kept).
        public var identities: [StoredIdentity]
        /// Registered devices.
        public var devices: [DeviceSummary]
    }

    /// The user `id`; `not_found` if there is none, `invalid_request` for a malformed id.
    public func user(_ id: String) async throws -> UserDetails {
        try Self.check(id)
        guard let record = try await store.userRecord(userID: id) else { throw Self.noSuchUser }
        async let identities = store.identities(ofUser: id)
        async let devices = store.devices(ofUser: id)
        return UserDetails(record: record, identities: try await identities, devices: try await devices)
    }

    /// What an account-data request needs of a user: everything ``user(_:)`` shows, its sessions'
    /// metadata (never a token), every entitlement as stored (expired ones too), and — from the audit
    /// table, when `audit` is given — its newest audit events (at most ``exportedAuditEvents``).
    public struct UserExport: Sendable, Equatable {
        /// The user as ``user(_:)`` shows it.
        public var details: UserDetails
        /// Every stored session, oldest first.
        public var sessions: [Session]
        /// The user's audit events, newest first; nil when there is no audit table.
        public var auditEvents: [AuditEvent]?
        /// True when the export holds the most it carries: older events may exist (`tegata audit
        /// --user` pages through them all).
        public var auditEventsTruncated: Bool
    }

    /// The most audit events an export carries (the newest).
    public static let exportedAuditEvents = 1000

    /// The export of the user `id`; `audit` is the audit table's store when it is kept.
    public func export(_ id: String, audit: (any AuditStore)?) async throws -> UserExport {
        let details = try await user(id)
        let sessions = try await store.sessions(ofUser: id)
        var events: [AuditEvent]?
        var truncated = false
        if let audit {
            let read = try await audit.auditEvents(AuditQuery(userID: id, limit: Self.exportedAuditEvents))
            truncated = read.count >= Self.exportedAuditEvents
            events = read
        }
        return UserExport(details: details, sessions: sessions, auditEvents: events, auditEventsTruncated: truncated)
    }

    /// Every stored session of the user (ended ones too, until pruned), oldest first.
    public func sessions(ofUser id: String) async throws -> [Session] {
        try Self.check(id)
        guard try await store.userRecord(userID: id) != nil else { throw Self.noSuchUser }
        return try await store.sessions(ofUser: id)
    }

    /// Ends every session of the user and every access token at once (the token version moves:
    /// one `user` feed event), and the device registrations of the sessions it ends.
    public func revokeUser(_ id: String) async throws {
        try Self.check(id)
        guard try await store.userRecord(userID: id) != nil else { throw Self.noSuchUser }
        let now = clock.now()
        try await store.revokeSessions(
            userID: id, except: nil, bumpTokenVersion: true, devices: .ofEndedSessions(keeping: nil), now: now,
            eventUntil: policy.revocationHorizon(from: now))
    }

    /// Deletes the user and everything of it, as `DELETE /v1/me` does.
    public func deleteUser(_ id: String) async throws {
        try Self.check(id)
        let now = clock.now()
        guard try await store.deleteUser(id: id, now: now, eventUntil: policy.revocationHorizon(from: now)) else {
            throw Self.noSuchUser
        }
    }

    /// Disables the user until `until` (nil: until enabled): it signs in by no method and
    /// refreshes nothing (403 `forbidden`, "this account is disabled"), every session ends and the
    /// token version moves (one `user` feed event: every access token dies everywhere). Its device
    /// registrations stay, so enabling it — or `until` passing — lets its devices sign in again.
    /// `invalid_request` for an `until` that is not in the future.
    public func disableUser(_ id: String, until: Date?) async throws {
        try Self.check(id)
        let now = clock.now()
        if let until, until <= now { throw TegataError.invalidRequest("until must be in the future") }
        guard try await store.disableUser(id: id, until: until, now: now, eventUntil: policy.revocationHorizon(from: now)) else {
            throw Self.noSuchUser
        }
    }

    /// Ends the user's disablement: it can sign in again (the sessions the disablement ended stay
    /// ended). Enabling an enabled user changes nothing.
    public func enableUser(_ id: String) async throws {
        try Self.check(id)
        guard try await store.enableUser(id: id) else { throw Self.noSuchUser }
    }

    /// Replaces the user's app claims: a JSON object of at most 1000 bytes serialised, no name
    /// reserved (``AppClaimRules``), carried in every access token issued afterwards (the next
    /// sign-in or refresh) and in introspection. `{}` removes them. `invalid_request` naming the
    /// claim for a reserved name or too many bytes.
    public func setClaims(_ id: String, _ claims: [String: JSONValue]) async throws {
        try Self.check(id)
        do {
            _ = try AppClaimRules.check(claims)
        } catch {
            throw TegataError.invalidRequest(error.message)
        }
        guard try await store.setAppClaims(userID: id, claims: claims) else { throw Self.noSuchUser }
    }

    /// Ends one session (and the device registration that opened it); done again, it changes
    /// nothing. `not_found` if there is no such session.
    public func endSession(_ id: String) async throws {
        guard UserID.isWellFormed(id) else { throw TegataError.invalidRequest("the session id is malformed") }
        let now = clock.now()
        if try await store.revokeSession(
            id: id, ownedBy: nil, devices: .ofEndedSessions(keeping: nil), now: now, eventUntil: policy.revocationHorizon(from: now)) {
            return
        }
        guard try await store.session(id: id) != nil else { throw TegataError.notFound("no such session") }
    }

    /// Imports a batch of users (``UserImport``; at most ``UserImport/maximumBatch``): each element
    /// of `users` is checked on its own (a malformed one is ``UserImportOutcome/invalid(_:)``, and
    /// so is a second record of one user id), the valid ones are imported in one store transaction,
    /// and every element gets its outcome, in order. `providers` are the configured identity
    /// providers with whether each keeps e-mail addresses. `invalid_request` for a batch too large.
    public func importUsers(_ users: [JSONValue], providers: [String: Bool]) async throws -> [UserImportOutcome] {
        guard users.count <= UserImport.maximumBatch else {
            throw TegataError.invalidRequest("an import takes at most \(UserImport.maximumBatch) users per call")
        }
        let now = clock.now()
        var outcomes: [UserImportOutcome?] = []
        var records: [UserImport] = []
        var firstIndex: [String: Int] = [:]
        for (index, value) in users.enumerated() {
            do {
                let record = try UserImport.parse(value, providers: providers, now: now)
                if let earlier = firstIndex[record.id] {
                    outcomes.append(.invalid("users[\(index)] has the id of users[\(earlier)]: one record per user"))
                    continue
                }
                firstIndex[record.id] = index
                records.append(record)
                outcomes.append(nil)
            } catch {
                outcomes.append(.invalid(error.message))
            }
        }
        let written = records.isEmpty ? [] : try await store.importUsers(records, now: now)
        guard written.count == records.count else { throw TegataError.serverError }
        var next = written.makeIterator()
        return outcomes.map { $0 ?? next.next()! }
    }

    /// Users matching `query`, one page.
    public func findUsers(_ query: UserQuery) async throws -> UserPage {
        try await store.findUsers(query)
    }

    private static func check(_ id: String) throws {
        guard UserID.isWellFormed(id) else { throw TegataError.invalidRequest("the user id is malformed") }
    }

    private static var noSuchUser: TegataError { .notFound("no such user") }
}
