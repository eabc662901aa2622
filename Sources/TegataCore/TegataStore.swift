import Foundation
import TegataWire

/// Persistence for the domain: every role at once. The server holds one value of this type;
/// each part of the domain takes only the role it uses.
///
/// What every method promises, whatever the store:
/// - **Atomic and durable.** Each method is one transaction, committed (durably, as the store is
///   configured) before it returns; a method that throws changed nothing.
/// - **Decisions come from the core.** Where a method decides something (sign-in, linking,
///   unlinking, refresh, logout, billing), the store reads the rows the decision needs *inside its
///   transaction*, hands them to the core's pure decision (``DeviceSignInDecision``,
///   ``IdentitySignInDecision``, ``LinkDecision``, ``UnlinkDecision``, ``RefreshEffect``,
///   ``SessionRevocationPlan``, ``BillingLedger``) and writes what it returns.
/// - **Isolation.** Each method's documentation names what must not change between its reads and
///   its writes (the rows to lock, or the uniqueness relied on). SQLite meets all of it with one
///   writer thread; a store with concurrent writers (PostgreSQL, several replicas) must lock those
///   rows (`SELECT … FOR UPDATE`) or rely on those unique constraints (`ON CONFLICT`).
///
/// `StoreContractTests` states all of it as tests every store must pass.
public protocol TegataStore: AccountStore, SessionStore, RevocationFeedStore, BillingStore, SigningKeyStore, AuditStore, StoreLifecycle {}

/// Users, their devices and identities: signing in, linking, unlinking, deleting.
public protocol AccountStore: Sendable {
    /// Signs a device in: reads the device row (locked, or absent), applies
    /// ``DeviceSignInDecision/decide(stored:command:)``: registers the device and its anonymous
    /// user, or records the sign-in on the device; then opens `command.session(for:)`.
    ///
    /// Isolation: the device row is locked for the transaction; two first sign-ins of one new
    /// device id make one user (the device id is unique: the loser of an insert race re-reads and
    /// signs in, or gets ``DeviceSignInOutcome/wrongSecret``).
    func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome

    /// Signs in with a verified external identity: reads the identity's owner, applies
    /// ``IdentitySignInDecision/decide(owner:command:)`` (create a permanent user with the identity,
    /// or sign its user in, storing a newly given email), then opens `command.session(for:)`.
    ///
    /// Isolation: `(provider, subject)` is unique; 20 concurrent first sign-ins of one identity
    /// make one user (an insert that loses the race re-reads the owner and signs in).
    func identitySignIn(_ command: IdentitySignInCommand) async throws -> IdentitySignInOutcome

    /// Links an external identity to a user, as ``LinkDecision/decide(provider:owner:userID:userExists:userProviders:)``
    /// says; a linked user stops being anonymous.
    ///
    /// Isolation: the user row is locked (so a concurrent link of another identity of the same
    /// provider, or an unlink, waits); `(provider, subject)` is unique, so an identity cannot be
    /// linked to two users.
    func linkIdentity(_ identity: ExternalIdentity, toUser userID: String, now: Date) async throws -> LinkIdentityOutcome

    /// Removes a user's identity of `provider`, as ``UnlinkDecision/decide(provider:userProviders:usableDevices:)``
    /// says: never the last way to sign in (no other identity and no unrevoked device). A user
    /// left with no identity is anonymous again.
    ///
    /// Isolation: the user row is locked, so two concurrent unlinks of a user's two last
    /// identities cannot both succeed, and a logout that revokes its devices waits.
    func unlinkIdentity(provider: String, fromUser userID: String) async throws -> UnlinkIdentityOutcome

    /// Records that the single-use credential identified by `key` (a digest, never the credential:
    /// an external ID token, or a DPoP proof under the prefix `dpop:`) was used, until `until`.
    /// False if it was already recorded and has not expired: a replay. An expired record is taken
    /// over. (The table is still named `used_id_tokens`, after its first use.)
    ///
    /// Isolation: `key` is unique (an insert with a conditional update on conflict).
    func rememberSingleUse(key: String, until: Date, now: Date) async throws -> Bool

    /// Deletes a user with its devices, identities, sessions, entitlements and payment-customer
    /// links, and records ``UserDeletionPlan/event(userID:tokenVersion:until:)``, which kills every
    /// access token it had. False if there was no such user.
    ///
    /// Isolation: the user row is locked (deleted first), so nothing can link to it meanwhile.
    func deleteUser(id: String, now: Date, eventUntil: Date) async throws -> Bool

    /// The id of the user an unrevoked device is registered to; nil for an unknown or revoked device.
    func deviceOwner(deviceID: String) async throws -> String?

    /// The user with its identities (by provider, then subject) and entitlements (by name), read
    /// in one snapshot; nil if there is no such user.
    func userRecord(userID: String) async throws -> UserRecord?

    /// The user's identities as stored (with the email kept, when the provider is configured to
    /// keep it), by provider then subject; empty for an unknown user.
    func identities(ofUser userID: String) async throws -> [StoredIdentity]

    /// How many users there are (for operators and metrics).
    func countUsers() async throws -> Int

    /// The devices registered to the user (revoked ones too), oldest first; none for an unknown user.
    func devices(ofUser userID: String) async throws -> [DeviceSummary]

    /// One page of the users matching `query` (every filter given), ordered by creation time then id.
    func findUsers(_ query: UserQuery) async throws -> UserPage

    /// Disables the user from `now` until `until` (nil: until enabled): records the disablement,
    /// moves the token version (one `user` feed event until `eventUntil`, so every access token dies
    /// everywhere) and revokes every live session. Device registrations stay: the disablement
    /// itself refuses their sign-ins, and they work again once it ends. Disabling a disabled user
    /// replaces its disablement. False if there is no such user.
    ///
    /// Isolation: one transaction (the user row first). A sign-in that read the user just before
    /// it committed may still open a session; that session's access token carries the old token
    /// version, and the refresh grant, which reads the user with the session, ends it.
    func disableUser(id: String, until: Date?, now: Date, eventUntil: Date) async throws -> Bool

    /// Ends the user's disablement, if any: it can sign in again (its sessions stay ended). False
    /// if there is no such user.
    func enableUser(id: String) async throws -> Bool

    /// Replaces the user's app claims (checked by the caller against ``AppClaimRules``; empty:
    /// none), read with the user record from then on. False if there is no such user.
    func setAppClaims(userID: String, claims: [String: JSONValue]) async throws -> Bool

    /// Imports users: for each record in order, reads its ``UserImportState`` (the user, the owners
    /// of its identities, devices and customers, its imported entitlements), writes what
    /// ``UserImportDecision/decide(_:state:now:)`` plans, and answers the record's outcome. Devices
    /// are registered with no secret (an empty hash, which no secret matches); imported entitlements
    /// are the grants of the user's subscription of source ``UserImport/billingSource``, merged into
    /// its entitlements with every other source's. Never a session, a token or a feed event.
    ///
    /// Isolation: the batch is one transaction, so each record is decided on what the records
    /// before it wrote, and a record is written whole or not at all. The user row is locked; an
    /// identity, device or customer inserted meanwhile by a sign-in or a webhook hits its unique
    /// key, and the batch runs again on the new state (where that record is now a conflict).
    func importUsers(_ records: [UserImport], now: Date) async throws -> [UserImportOutcome]
}

/// An identity as stored.
public struct StoredIdentity: Sendable, Equatable {
    /// The provider name.
    public var provider: String
    /// The provider's subject.
    public var subject: String
    /// The email address, if it was kept.
    public var email: String?
    /// When it was linked (or its user created with it).
    public var linkedAt: Date

    /// Creates a stored identity value.
    public init(provider: String, subject: String, email: String?, linkedAt: Date) {
        self.provider = provider
        self.subject = subject
        self.email = email
        self.linkedAt = linkedAt
    }
}

/// Sessions and refresh: rotation, use, revocation.
public protocol SessionStore: Sendable {
    /// Refreshes a session: reads it with its user (nil if either is gone), writes
    /// `command.effect(for:)` (``RefreshEffect``: a rotation, or a revocation with its feed event,
    /// or nothing), and returns the user and session to issue tokens for.
    ///
    /// Isolation: the session row is locked for the transaction. Concurrent refreshes of one session
    /// serialise on it, so exactly one of them rotates from a given generation; the others see the
    /// rotated state and are decided on it (grace, or reuse).
    func refresh(_ command: RefreshCommand) async throws -> RefreshOutcome

    /// What decides whether an access token still works at Tegata's endpoints: its session, its
    /// user's token version, and whether its `jti` (if given) was revoked — and, with `withUser`, the
    /// user record, read in the same snapshot. Nil if the session (or its user) no longer exists.
    func authState(sessionID: String, jti: String?, withUser: Bool) async throws -> AuthState?

    /// Stores the sign-in claims hook's answer on a live session (``Session/hookClaims``). False if
    /// there is no such live session.
    func setSessionClaims(sessionID: String, claims: [String: JSONValue]) async throws -> Bool

    /// Marks a live (not revoked) session as used at `now` (never moving it back), so it does not
    /// reach its idle end while a web session cookie keeps it in use. False if there is no such
    /// session. Isolation: one conditional update of the session row.
    func touchSession(id: String, now: Date) async throws -> Bool

    /// The user's sessions that are still live at `now`, oldest first.
    func liveSessions(userID: String, now: Date, idleLifetime: TimeInterval) async throws -> [Session]

    /// Every stored session of the user, revoked and ended ones included (until pruned), oldest first.
    func sessions(ofUser userID: String) async throws -> [Session]

    /// One stored session, revoked or not; nil if there is none (or it was pruned).
    func session(id: String) async throws -> Session?

    /// Revokes one unrevoked session (only if it belongs to `userID`, when given), as
    /// ``SessionRevocationPlan/one(_:devices:userDevices:eventUntil:)`` says: the session, its feed
    /// event, and the device registrations `devices` names. False if there is no such session.
    ///
    /// Isolation: the session row is locked, so it is revoked (and announced) once.
    func revokeSession(id: String, ownedBy userID: String?, devices: DeviceRevocation, now: Date, eventUntil: Date) async throws -> Bool

    /// Revokes every unrevoked session of a user except `except`, as
    /// ``SessionRevocationPlan/many(userID:live:except:bumpTokenVersion:tokenVersion:devices:userDevices:eventUntil:)``
    /// says: with `bumpTokenVersion` the user's token version moves and one `user` event is
    /// recorded; otherwise one `session` event per session. Nothing for an unknown user.
    ///
    /// Isolation: the user row is locked first, so a concurrent sign-in, link or unlink of the user
    /// waits, and the token version moves by exactly one per call.
    func revokeSessions(
        userID: String, except: String?, bumpTokenVersion: Bool, devices: DeviceRevocation, now: Date, eventUntil: Date
    ) async throws

    /// Denies one access token until `until` with a `token` feed event; a second revocation of
    /// the same `jti` records nothing. Isolation: the pair (`token`, `jti`) is unique in the feed.
    func revokeAccessToken(jti: String, until: Date, now: Date) async throws
}

/// The revocation feed that verifiers follow.
public protocol RevocationFeedStore: Sendable {
    /// Feed events after `cursor` (every retained event when nil) that still matter at `now`, in
    /// feed order, at most `limit`, and the cursor to continue from.
    ///
    /// The ordering guarantee, whatever order concurrent transactions commit in: a reader that has
    /// seen cursor C sees, after C, every event committed after C was handed out, and none twice.
    /// (A store whose sequence values can commit out of order — PostgreSQL sequences — must not
    /// hand out a cursor past an event that is still uncommitted.) A cursor the store never
    /// handed out, but of its form (another database's, or from beyond the newest event), moves
    /// the reader back to the current end of the feed: ``RevocationFeedPage/movedBack``. A value
    /// that is not of its form throws ``RevocationFeedCursor/Unrecognized``.
    func revocationEvents(after cursor: RevocationFeedCursor?, now: Date, limit: Int) async throws -> RevocationFeedPage
}

/// Payment state from webhooks.
public protocol BillingStore: Sendable {
    /// Applies a verified payment event: records its id (a known id changes nothing:
    /// ``BillingOutcome/duplicate``), then reads the rows ``BillingLedger/decide(_:on:)`` asks for
    /// until it returns writes, carries them out (``BillingOutcome/stale`` is recorded on the event),
    /// and rewrites the entitlements of every touched user with ``Entitlement/merged(_:)`` of the
    /// grants of every subscription of every customer linked to it (nothing for an id that is not a user).
    ///
    /// Isolation: the event id `(source, id)` is unique; events of one source are applied one at a
    /// time (the ledger's snapshot must not change before its writes commit: SQLite's writer does
    /// this; PostgreSQL takes a transaction-level advisory lock per source).
    func applyBillingEvent(_ event: BillingEvent, now: Date) async throws -> BillingOutcome
}

/// The token signing keys, shared by every replica.
public protocol SigningKeyStore: Sendable {
    /// Every stored signing key, the most recently stored first (insertion order reversed, even
    /// within one second).
    func signingKeys() async throws -> [StoredSigningKey]

    /// Stores a new signing key (its private part already encrypted) and deletes the keys `removing`
    /// names, in one transaction. Isolation: the key id is unique.
    func insertSigningKey(_ key: StoredSigningKey, removing: [String]) async throws
}

/// Whether the database answers (readiness).
public protocol StoreHealth: Sendable {
    /// Throws unless the database answers.
    func ping() async throws
}

/// Opening, migrating, pruning and closing a store.
public protocol StoreLifecycle: StoreHealth {

    /// The schema version the database is at (its newest applied migration).
    func schemaVersion() async throws -> Int

    /// The newest schema version this build knows.
    var newestSchemaVersion: Int { get }

    /// Applies the pending numbered, forward-only migrations in order, each in its own transaction,
    /// and returns the versions applied (none when the schema is current). Throws if the database
    /// is at a version newer than this build knows. Safe when several processes migrate at once
    /// (each migration is applied exactly once).
    func migrate() async throws -> [Int]

    /// Deletes ended sessions, feed events that no longer matter, expired used-ID-token records,
    /// shared rate-limit counters that are whole again, and payment-event ids received before
    /// `webhookEventsBefore`, at most `limit` of each.
    func prune(now: Date, idleLifetime: TimeInterval, webhookEventsBefore: Date, limit: Int) async throws -> PruneResult

    /// Closes the store's connections; nothing may be called afterwards. Safe to call twice.
    func close() async
}

/// A position in the revocation feed, opaque to everyone but the store that handed it out (on the
/// wire it is the `cursor` string). At most 128 characters of `A-Z a-z 0-9 . _ : -`.
public struct RevocationFeedCursor: Sendable, Hashable, CustomStringConvertible {
    /// The cursor as the feed shows it.
    public let rawValue: String

    /// A cursor from its wire form; nil for anything no store hands out.
    public init?(rawValue: String) {
        guard (1...128).contains(rawValue.utf8.count), rawValue.utf8.allSatisfy(Self.isAllowed) else { return nil }
        self.rawValue = rawValue
    }

    /// The wire form.
    public var description: String { rawValue }

    /// The same characters as entitlement names.
    private static func isAllowed(_ byte: UInt8) -> Bool { Entitlement.isNameByte(byte) }

    /// A store whose feed is numbered in commit order (both of the package's) uses the last number a
    /// reader has seen, in decimal, as its cursor.
    public init(sequence: Int64) {
        rawValue = String(sequence)
    }

    /// The number of a decimal cursor; throws ``Unrecognized`` for any other form.
    public func sequence() throws(Unrecognized) -> Int64 {
        guard let value = Int64(rawValue), value >= 0 else { throw Unrecognized() }
        return value
    }

    /// Thrown for a cursor that is not of the store's form.
    public struct Unrecognized: Error, Sendable, Equatable {
        /// Creates the error.
        public init() {}
    }
}

/// One page of the revocation feed.
public struct RevocationFeedPage: Sendable, Equatable {
    /// The events, in feed order.
    public var events: [RevocationEvent]
    /// Where to continue from.
    public var cursor: RevocationFeedCursor
    /// The cursor asked for was not one this feed handed out (beyond its newest event, or from
    /// another database): the reader was moved back to the current end of the feed.
    public var movedBack: Bool

    /// The page of a feed numbered in commit order, read after `after` up to `newest` (the highest
    /// number the reader's snapshot holds), at most `limit` events: a full page continues after its
    /// last event; otherwise everything up to `newest` has been seen (events skipped there had
    /// expired). A cursor beyond `newest` (another database's) moves back to it.
    public static func numbered(events: [RevocationEvent], after: Int64, newest: Int64, limit: Int) -> RevocationFeedPage {
        let next = events.count == limit ? events[events.count - 1].sequence : newest
        return RevocationFeedPage(events: events, cursor: RevocationFeedCursor(sequence: next), movedBack: next < after)
    }

    /// Creates a page.
    public init(events: [RevocationEvent], cursor: RevocationFeedCursor, movedBack: Bool = false) {
        self.events = events
        self.cursor = cursor
        self.movedBack = movedBack
    }
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
    /// The limit on new registrations this one counts against, if any: taken in the same
    /// transaction as the registration, only when the device is new, and shared by every process of
    /// the database. When it refuses, nothing is created (``DeviceSignInOutcome/registrationLimited(_:)``).
    public var registrationLimit: SharedRateLimit?
    /// For a legacy device claim (`POST /v1/auth/device/claim`): the user id the legacy app says
    /// the device belongs to. The claim stores ``secretHash`` on an imported device of that user
    /// that has no secret yet, and never registers a new device. Nil for an ordinary sign-in.
    public var claimedUserID: String?
    /// The DPoP key the session is bound to (its thumbprint), when the sign-in came with a proof.
    public var dpopThumbprint: String?

    /// Creates a command.
    public init(
        credentials: DeviceCredentials, secretMatches: @escaping @Sendable (Data) -> Bool, secretHash: Data,
        newUserID: String, newSessionID: String, clientID: String, now: Date, absoluteExpiresAt: Date,
        registrationLimit: SharedRateLimit? = nil, claimedUserID: String? = nil, dpopThumbprint: String? = nil
    ) {
        self.dpopThumbprint = dpopThumbprint
        self.claimedUserID = claimedUserID
        self.registrationLimit = registrationLimit
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
    /// The device is new and the command's ``DeviceSignInCommand/registrationLimit`` is spent.
    /// Nothing was created.
    case registrationLimited(RateLimitRejection)
    /// The secret matches, but the device's user is disabled at the command's time. Nothing changed.
    case userDisabled(userID: String, Disablement)
    /// A claim stored the secret on an imported device that had none, and opened a session.
    case claimed(UserRecord, Session)
    /// A claim was refused: no such device, another user's, or one that has its secret already
    /// (and the presented secret is not it). Nothing changed. `userID` is the device's user, when
    /// there is a device.
    case claimRefused(DeviceClaimRefusal, userID: String?)

    /// The session opened, if one was.
    public var session: Session? {
        switch self {
        case .registered(_, let session), .signedIn(_, let session), .claimed(_, let session): session
        case .wrongSecret, .deviceRevoked, .registrationLimited, .userDisabled, .claimRefused: nil
        }
    }
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
    /// The DPoP key the session is bound to (its thumbprint), when the exchange came with a proof.
    public var dpopThumbprint: String?

    /// Creates a command.
    public init(
        identity: ExternalIdentity, newUserID: String, newSessionID: String, clientID: String, platform: String,
        amr: [String], now: Date, absoluteExpiresAt: Date, dpopThumbprint: String? = nil
    ) {
        self.dpopThumbprint = dpopThumbprint
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
    /// The new session; nil when the identity's user is disabled at the command's time (nothing
    /// was changed: see ``User/disabled(at:)``).
    public var session: Session?
    /// True when the identity was new and its user was created.
    public var created: Bool

    /// Creates an outcome.
    public init(record: UserRecord, session: Session?, created: Bool) {
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
    /// A single-use credential the refresh spends (the request's DPoP proof), recorded in the same
    /// transaction as the rotation, as ``AccountStore/rememberSingleUse(key:until:now:)`` records
    /// it — one commit for both. Recorded only when tokens are issued; already recorded and not
    /// expired: ``RefreshOutcome/rejected(_:)`` with ``RefreshDecision/RejectReason/proofReplayed``
    /// and nothing changed.
    public var singleUse: SingleUseRecord?

    /// Creates a command.
    public init(
        sessionID: String, decide: @escaping @Sendable (Session?) -> RefreshDecision, now: Date, eventUntil: Date,
        singleUse: SingleUseRecord? = nil
    ) {
        self.sessionID = sessionID
        self.decide = decide
        self.now = now
        self.eventUntil = eventUntil
        self.singleUse = singleUse
    }
}

/// A single-use credential to record: its key (a digest, never the credential) and until when.
public struct SingleUseRecord: Sendable, Equatable {
    /// The digest it is known by.
    public var key: String
    /// Until when it is remembered.
    public var until: Date

    /// A record.
    public init(key: String, until: Date) {
        self.key = key
        self.until = until
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
    /// Shared rate-limit counters whose allowance was whole again, deleted.
    public var rateLimitBuckets: Int

    /// Creates a result.
    public init(sessions: Int, events: Int, webhookEvents: Int = 0, usedIDTokens: Int = 0, rateLimitBuckets: Int = 0) {
        self.rateLimitBuckets = rateLimitBuckets
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
