import Foundation

/// Persistence for the domain. Implementations (SQLite, PostgreSQL) enforce atomicity: each method
/// is one transaction, committed before it returns.
public protocol TegataStore: Sendable {
    /// Signs a device in, in one transaction: registers device and anonymous user if the device id is
    /// new, else checks the secret; on success opens a session.
    func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome

    /// The session with this id and its user's token version, for access-token checks. Nil if the
    /// session (or its user) no longer exists.
    func sessionState(sessionID: String) async throws -> SessionState?

    /// The user with its identities and entitlements; nil if there is no such user.
    func userRecord(userID: String) async throws -> UserRecord?

    /// Every stored signing key, newest first.
    func signingKeys() async throws -> [StoredSigningKey]

    /// Stores a new signing key (its private part already encrypted).
    func insertSigningKey(_ key: StoredSigningKey) async throws

    /// Throws unless the database answers.
    func ping() async throws

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
}

/// A session and what decides whether its access tokens still work.
public struct SessionState: Sendable, Equatable {
    /// The session.
    public var session: Session
    /// Its user's current token version.
    public var userTokenVersion: Int64

    /// Creates a session state.
    public init(session: Session, userTokenVersion: Int64) {
        self.session = session
        self.userTokenVersion = userTokenVersion
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

    /// Creates a stored key record.
    public init(keyID: String, algorithm: String, sealedPrivateKey: Data, createdAt: Date) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.sealedPrivateKey = sealedPrivateKey
        self.createdAt = createdAt
    }
}
