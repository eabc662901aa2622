import Foundation

/// Persistence for the domain. Implementations (SQLite, PostgreSQL) enforce atomicity: each method
/// is one transaction, committed before it returns.
public protocol TegataStore: Sendable {
    /// Signs a device in, in one transaction: registers device and anonymous user if the device id is
    /// new, else checks the secret; on success opens a session.
    func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome

    /// Signs in with a verified external identity, in one transaction: finds the identity's user or
    /// creates a permanent (not anonymous) user with that identity, and opens a session.
    func identitySignIn(_ command: IdentitySignInCommand) async throws -> IdentitySignInOutcome

    /// Links an external identity to a user, in one transaction. The user stops being anonymous.
    func linkIdentity(_ identity: ExternalIdentity, toUser userID: String, now: Date) async throws -> LinkIdentityOutcome

    /// Removes a user's identity of `provider`, in one transaction — unless it is the user's last
    /// way to sign in (no other identity and no device). A user left with no identity is anonymous again.
    func unlinkIdentity(provider: String, fromUser userID: String) async throws -> UnlinkIdentityOutcome

    /// Refreshes a session in one transaction: reads it, lets `command.decide` choose, applies the
    /// decision (rotation, or revocation with a feed event) and commits before returning.
    func refresh(_ command: RefreshCommand) async throws -> RefreshOutcome

    /// What decides whether an access token still works at Tegata's endpoints: its session, its
    /// user's token version, and whether its `jti` (if given) was revoked — and, with `withUser`, the
    /// user record, read in the same snapshot. Nil if the session (or its user) no longer exists.
    func authState(sessionID: String, jti: String?, withUser: Bool) async throws -> AuthState?

    /// Marks a live (not revoked) session as used at `now`, so it does not reach its idle end while a
    /// web session cookie keeps it in use. False if there is no such session.
    func touchSession(id: String, now: Date) async throws -> Bool

    /// The user's sessions that are still live at `now`, oldest first.
    func liveSessions(userID: String, now: Date, idleLifetime: TimeInterval) async throws -> [Session]

    /// Revokes one session (only if it belongs to `userID`, when given) and records a feed event, and
    /// the device registrations `devices` names. Returns false if there is no such live session.
    func revokeSession(id: String, ownedBy userID: String?, devices: DeviceRevocation, now: Date, eventUntil: Date) async throws -> Bool

    /// Revokes every live session of a user except `except`, and the device registrations `devices`
    /// names. With `bumpTokenVersion`, also moves the user's token version (one `user` event);
    /// otherwise records one `session` event per session.
    func revokeSessions(
        userID: String, except: String?, bumpTokenVersion: Bool, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws

    /// Records, in one transaction, that the external ID token identified by `key` (a digest, never
    /// the token) was used, until `until`. False if it was already recorded: a replay. Expired
    /// records go with ``prune(now:idleLifetime:webhookEventsBefore:limit:)``.
    func rememberUsedIDToken(key: String, until: Date, now: Date) async throws -> Bool

    /// Denies one access token until `until` (a `token` event).
    func revokeAccessToken(jti: String, until: Date, now: Date) async throws

    /// Deletes a user with its devices, identities, sessions and entitlements, and records a `user`
    /// event that kills every access token it had. Returns false if there was no such user.
    func deleteUser(id: String, now: Date, eventUntil: Date) async throws -> Bool

    /// Feed events after `cursor` (all retained events when nil) that still matter at `now`, at most
    /// `limit`, and the cursor to continue from.
    func revocationEvents(after cursor: Int64?, now: Date, limit: Int) async throws -> (events: [RevocationEvent], cursor: Int64)

    /// Deletes ended sessions, feed events that no longer matter, expired used-ID-token records, and
    /// payment-event ids received before `webhookEventsBefore`, at most `limit` of each.
    func prune(now: Date, idleLifetime: TimeInterval, webhookEventsBefore: Date, limit: Int) async throws -> PruneResult

    /// Applies a verified payment event in one transaction: records its id (a known id changes
    /// nothing: ``BillingOutcome/duplicate``), applies its customer links and its subscription change
    /// unless newer state is already stored (``BillingOutcome/stale``), and recomputes the
    /// entitlements of every user whose state changed.
    func applyBillingEvent(_ event: BillingEvent, now: Date) async throws -> BillingOutcome

    /// The id of the user a device is registered to; nil for an unknown device.
    func deviceOwner(deviceID: String) async throws -> String?

    /// The user with its identities and entitlements; nil if there is no such user.
    func userRecord(userID: String) async throws -> UserRecord?

    /// Every stored signing key, the most recently stored first (rotation order, reversed).
    func signingKeys() async throws -> [StoredSigningKey]

    /// Stores a new signing key (its private part already encrypted) and deletes the keys `removing`
    /// names, in one transaction.
    func insertSigningKey(_ key: StoredSigningKey, removing: [String]) async throws

    /// Throws unless the database answers.
    func ping() async throws

    /// The schema version the database is at (its newest applied migration).
    func schemaVersion() async throws -> Int

    /// Closes the store's connections; nothing may be called afterwards.
    func close() async
}

/// What a device sign-in needs from the store.
public struct DeviceSignInCommand: Sendable {
    /// The validated credentials.
    public var credentials: DeviceCredentials
    /// Checks a stored secret hash against the presented secret, in constant time.
    public var secretMatches: @Sendable (Data) -> Bool
    /// The hash to store if the device is new.
    public var secretHash: Data
    /// The id for the user if one is created.
    public var newUserID: String
    /// The id of the session to open.
    public var newSessionID: String
    /// The client the session is for.
    public var clientID: String
    /// The time of the sign-in.
    public var now: Date
    /// The session's absolute end.
    public var absoluteExpiresAt: Date

    /// Creates a command.
    public init(
        credentials: DeviceCredentials, secretMatches: @escaping @Sendable (Data) -> Bool, secretHash: Data,
        newUserID: String, newSessionID: String, clientID: String, now: Date, absoluteExpiresAt: Date
    ) {
        self.credentials = credentials
        self.secretMatches = secretMatches
        self.secretHash = secretHash
        self.newUserID = newUserID
        self.newSessionID = newSessionID
        self.clientID = clientID
        self.now = now
        self.absoluteExpiresAt = absoluteExpiresAt
    }
}

/// The result of a device sign-in.
public enum DeviceSignInOutcome: Sendable, Equatable {
    /// The device was new: a user was created and a session opened.
    case registered(UserRecord, Session)
    /// The device was known and the secret matched: a session was opened.
    case signedIn(UserRecord, Session)
    /// The device is known and the secret does not match. Nothing changed.
    case wrongSecret
    /// The secret matches, but the device's registration was revoked (a logout of other sessions,
    /// everywhere, or of the session it opened). Nothing changed.
    case deviceRevoked
}

/// Which device registrations a revocation of sessions also ends. A revoked device's secret signs
/// in nowhere again (not even as a new user), so a lost phone or a copied credentials file cannot
/// undo a logout by signing in with the device.
public enum DeviceRevocation: Sendable, Equatable {
    /// None (a local logout; a refresh-token replay, which says nothing about the device).
    case none
    /// The devices that opened the ended sessions, except `keeping` (the caller's own device).
    case ofEndedSessions(keeping: String?)
    /// Every device registered to the user, except `keeping`.
    case allOfUser(keeping: String?)
}

/// What a sign-in with an external identity needs from the store.
public struct IdentitySignInCommand: Sendable {
    /// The verified identity.
    public var identity: ExternalIdentity
    /// The id for the user if one is created.
    public var newUserID: String
    /// The id of the session to open.
    public var newSessionID: String
    /// The client the session is for.
    public var clientID: String
    /// The platform the client declared.
    public var platform: String
    /// The session's `amr`.
    public var amr: [String]
    /// The time of the sign-in.
    public var now: Date
    /// The session's absolute end.
    public var absoluteExpiresAt: Date

    /// Creates a command.
    public init(
        identity: ExternalIdentity, newUserID: String, newSessionID: String, clientID: String, platform: String,
        amr: [String], now: Date, absoluteExpiresAt: Date
    ) {
        self.identity = identity
        self.newUserID = newUserID
        self.newSessionID = newSessionID
        self.clientID = clientID
        self.platform = platform
        self.amr = amr
        self.now = now
        self.absoluteExpiresAt = absoluteExpiresAt
    }
}

/// The result of a sign-in with an external identity.
public struct IdentitySignInOutcome: Sendable, Equatable {
    /// The user (as of after the sign-in).
    public var record: UserRecord
    /// The new session.
    public var session: Session
    /// True when the identity was new and its user was created.
    public var created: Bool

    /// Creates an outcome.
    public init(record: UserRecord, session: Session, created: Bool) {
        self.record = record
        self.session = session
        self.created = created
    }
}

/// The result of linking an identity.
public enum LinkIdentityOutcome: Sendable, Equatable {
    /// Linked now.
    case linked(UserRecord)
    /// It was already linked to this user; nothing changed.
    case alreadyLinked(UserRecord)
    /// Another user owns that identity. Nothing changed.
    case ownedByAnotherUser
    /// The user already has a different identity of that provider. Nothing changed.
    case providerAlreadyLinked
    /// No such user.
    case noSuchUser
}

/// The result of unlinking an identity.
public enum UnlinkIdentityOutcome: Sendable, Equatable {
    /// Removed.
    case unlinked(UserRecord)
    /// The user has no identity of that provider.
    case notLinked
    /// It is the user's last way to sign in; nothing changed.
    case lastWayToSignIn
}

/// A session and what decides whether its access tokens still work.
public struct AuthState: Sendable, Equatable {
    /// The session.
    public var session: Session
    /// Its user's current token version.
    public var userTokenVersion: Int64
    /// Whether the presented token's `jti` was revoked (RFC 7009).
    public var tokenRevoked: Bool
    /// The user with identities and entitlements, when asked for.
    public var user: UserRecord?

    /// Creates an auth state.
    public init(session: Session, userTokenVersion: Int64, tokenRevoked: Bool, user: UserRecord? = nil) {
        self.session = session
        self.userTokenVersion = userTokenVersion
        self.tokenRevoked = tokenRevoked
        self.user = user
    }
}

/// What a refresh needs from the store.
public struct RefreshCommand: Sendable {
    /// The session the presented token names.
    public var sessionID: String
    /// Chooses what to do from the session's state (nil: no such session); see ``RefreshDecision``.
    public var decide: @Sendable (Session?) -> RefreshDecision
    /// The time of the refresh.
    public var now: Date
    /// How long a revocation event must be kept.
    public var eventUntil: Date

    /// Creates a command.
    public init(sessionID: String, decide: @escaping @Sendable (Session?) -> RefreshDecision, now: Date, eventUntil: Date) {
        self.sessionID = sessionID
        self.decide = decide
        self.now = now
        self.eventUntil = eventUntil
    }
}

/// The result of a refresh, after commit.
public enum RefreshOutcome: Sendable, Equatable {
    /// Tokens may be issued for this (rotated or current) session state.
    case issued(UserRecord, Session)
    /// The token was replayed: the session is now revoked.
    case revoked
    /// The token was refused; nothing changed.
    case rejected(RefreshDecision.RejectReason)
}

/// How much a prune removed.
public struct PruneResult: Sendable, Equatable {
    /// Ended sessions deleted.
    public var sessions: Int
    /// Feed events deleted.
    public var events: Int
    /// Payment-event ids deleted.
    public var webhookEvents: Int
    /// Expired records of used external ID tokens deleted.
    public var usedIDTokens: Int

    /// Creates a result.
    public init(sessions: Int, events: Int, webhookEvents: Int = 0, usedIDTokens: Int = 0) {
        self.sessions = sessions
        self.events = events
        self.webhookEvents = webhookEvents
        self.usedIDTokens = usedIDTokens
    }
}

/// A signing key as stored: public JWK in clear, private scalar sealed under the master key.
public struct StoredSigningKey: Sendable, Equatable {
    /// The key id.
    public var keyID: String
    /// The algorithm (`ES256`).
    public var algorithm: String
    /// The AES-GCM sealed private key.
    public var sealedPrivateKey: Data
    /// When the key was created.
    public var createdAt: Date
    /// From when the key signs new tokens (a rotation publishes a key before it signs).
    public var activatesAt: Date

    /// Creates a stored key record; it signs from `activatesAt` (default: at once).
    public init(keyID: String, algorithm: String, sealedPrivateKey: Data, createdAt: Date, activatesAt: Date? = nil) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.sealedPrivateKey = sealedPrivateKey
        self.createdAt = createdAt
        self.activatesAt = activatesAt ?? createdAt
    }
}
