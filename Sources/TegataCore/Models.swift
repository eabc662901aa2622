import Foundation
import TegataWire

/// A user: anonymous (device only) until an external identity is linked.
public struct User: Sendable, Equatable {
    /// The user id (the `sub` of its tokens).
    public var id: String
    /// True while the user has no linked external identity.
    public var anon: Bool
    /// When the user was created.
    public var createdAt: Date
    /// The token version: access tokens carrying an older `tv` are dead.
    public var tokenVersion: Int64
    /// Set while an operator has the user disabled (it may have lapsed: see ``disabled(at:)``).
    public var disabled: Disablement?

    /// Creates a user value.
    public init(id: String, anon: Bool, createdAt: Date, tokenVersion: Int64, disabled: Disablement? = nil) {
        self.id = id
        self.anon = anon
        self.createdAt = createdAt
        self.tokenVersion = tokenVersion
        self.disabled = disabled
    }

    /// The disablement in force at `now`: nil when the user is enabled or its disablement's
    /// `until` has passed (a disablement until a time lapses by itself).
    public func disabled(at now: Date) -> Disablement? {
        guard let disabled, disabled.until.map({ now < $0 }) ?? true else { return nil }
        return disabled
    }

    /// The user as a token response shows it.
    public var summary: UserSummary { UserSummary(id: id, anon: anon, createdAt: createdAt) }
}

/// An operator's disabling of a user: from when, and until when (nil: until enabled again). While
/// in force, the user signs in by no method and refreshes no session.
public struct Disablement: Sendable, Equatable {
    /// When the user was disabled.
    public var since: Date
    /// When it lapses by itself; nil for never.
    public var until: Date?

    /// Creates a disablement.
    public init(since: Date, until: Date?) {
        self.since = since
        self.until = until
    }

    /// The refusal every sign-in and refresh of the user answers: 403 `forbidden`, the same
    /// everywhere, naming the end when there is one.
    public var refusal: TegataError {
        guard let until else { return .forbidden("this account is disabled") }
        return .forbidden("this account is disabled until \(until.formatted(Date.ISO8601FormatStyle()))")
    }
}

/// A paid or granted entitlement, with its end if it has one.
public struct Entitlement: Sendable, Equatable {
    /// The entitlement's name (`membership`, `pro`, …).
    public var name: String
    /// When it ends; nil for no end.
    public var expiresAt: Date?

    /// Creates an entitlement value.
    public init(name: String, expiresAt: Date?) {
        self.name = name
        self.expiresAt = expiresAt
    }

    /// The entitlements among `all` still in force at `now`, in the compact claim form.
    public static func claim(from all: [Entitlement], at now: Date) -> [String: EntitlementGrant] {
        var result: [String: EntitlementGrant] = [:]
        for entitlement in all {
            let grant: EntitlementGrant
            if let end = entitlement.expiresAt {
                guard end > now else { continue }
                grant = .until(Int64(end.timeIntervalSince1970.rounded(.down)))
            } else {
                grant = .unlimited
            }
            switch (result[entitlement.name], grant) {
            case (.unlimited?, _): continue
            case (.until(let kept)?, .until(let candidate)) where kept >= candidate: continue
            default: result[entitlement.name] = grant
            }
        }
        return result
    }
}

/// A user together with what its tokens and profile need.
public struct UserRecord: Sendable, Equatable {
    /// The user.
    public var user: User
    /// Its linked identities.
    public var identities: [IdentitySummary]
    /// Its entitlements, expired ones included (filtered by time when used).
    public var entitlements: [Entitlement]
    /// The app claims an operator set for it (``AppClaimRules``), carried in its access tokens.
    public var appClaims: [String: JSONValue]

    /// Creates a user record.
    public init(user: User, identities: [IdentitySummary], entitlements: [Entitlement], appClaims: [String: JSONValue] = [:]) {
        self.user = user
        self.identities = identities
        self.entitlements = entitlements
        self.appClaims = appClaims
    }
}

/// A session: one sign-in, one refresh-token family.
public struct Session: Sendable, Equatable {
    /// The session id (`sid`).
    public var id: String
    /// The user it belongs to.
    public var userID: String
    /// The device it was opened from, for device sign-ins.
    public var deviceID: String?
    /// The platform the client declared.
    public var platform: String
    /// How the user authenticated (`device`, `apple`, …).
    public var amr: [String]
    /// The client the session's tokens are issued to.
    public var clientID: String
    /// When it was opened.
    public var createdAt: Date
    /// When it was last used: a refresh, or a web-session cookie renewal (or when it opened). The
    /// idle lifetime counts from here.
    public var lastRefreshedAt: Date
    /// When its current refresh token was issued: the last rotation (or the opening). The reuse
    /// grace counts from here — and only a rotation moves it, so no other kind of use can reopen
    /// the grace window for the preceding token.
    public var rotatedAt: Date
    /// The generation of its current refresh token; each rotation adds one.
    public var generation: Int64
    /// When it ends whatever happens.
    public var absoluteExpiresAt: Date
    /// When it was revoked, if it was.
    public var revokedAt: Date?
    /// The claims the sign-in claims hook answered for it (``SignInClaimsHook``), carried by every
    /// access token of the session beside the user's app claims.
    public var hookClaims: [String: JSONValue]
    /// The RFC 7638 thumbprint of the DPoP key the session is bound to (it was opened with a proof
    /// by that key): every refresh needs a proof by it, and its access tokens carry it as `cnf.jkt`.
    /// Nil: a bearer session.
    public var dpopThumbprint: String?

    /// Creates a session value.
    public init(
        id: String, userID: String, deviceID: String?, platform: String, amr: [String], clientID: String,
        createdAt: Date, lastRefreshedAt: Date, rotatedAt: Date? = nil, generation: Int64, absoluteExpiresAt: Date,
        revokedAt: Date?, hookClaims: [String: JSONValue] = [:], dpopThumbprint: String? = nil
    ) {
        self.hookClaims = hookClaims
        self.dpopThumbprint = dpopThumbprint
        self.id = id
        self.userID = userID
        self.deviceID = deviceID
        self.platform = platform
        self.amr = amr
        self.clientID = clientID
        self.createdAt = createdAt
        self.lastRefreshedAt = lastRefreshedAt
        self.rotatedAt = rotatedAt ?? lastRefreshedAt
        self.generation = generation
        self.absoluteExpiresAt = absoluteExpiresAt
        self.revokedAt = revokedAt
    }

    /// Whether the session can still be used at `now` under `policy`.
    public func isLive(at now: Date, policy: SessionPolicy) -> Bool {
        revokedAt == nil && now < absoluteExpiresAt && now < lastRefreshedAt.addingTimeInterval(policy.idleLifetime)
    }

    /// When the current refresh token stops working if unused: the idle end capped by the absolute end.
    public func refreshExpiry(policy: SessionPolicy) -> Date {
        min(lastRefreshedAt.addingTimeInterval(policy.idleLifetime), absoluteExpiresAt)
    }
}

/// Session lifetimes and the refresh-token reuse grace.
public struct SessionPolicy: Sendable, Equatable {
    /// How long a session lives without a refresh.
    public var idleLifetime: TimeInterval
    /// How long a session lives at most.
    public var absoluteLifetime: TimeInterval
    /// How long the immediately preceding refresh token still gets the current one (0 disables).
    public var reuseGrace: TimeInterval

    /// Creates a policy; defaults are 30 days idle, 365 days absolute and a 10 s reuse grace.
    public init(idleLifetime: TimeInterval = 30 * 86_400, absoluteLifetime: TimeInterval = 365 * 86_400, reuseGrace: TimeInterval = 10) {
        self.idleLifetime = idleLifetime
        self.absoluteLifetime = absoluteLifetime
        self.reuseGrace = reuseGrace
    }
}
