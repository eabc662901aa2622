import Crypto
import Foundation
import TegataTokens

/// The value of the web-session cookie: `base64url(version ‖ session id ‖ token version ‖ expiry ‖
/// HMAC-SHA256)` under a key derived from the master key. Like an access token it is checked for
/// integrity and expiry without the database, and then, like an access token at Tegata's own
/// endpoints, against its session's state (live, same token version, user present). It is not a
/// JWS, so it can never pass as an access token, and an access token can never pass as a cookie.
public struct SessionCookieToken: Sendable, Equatable {
    /// The session the cookie belongs to.
    public var sessionID: UUID
    /// The user's token version when the cookie was made.
    public var tokenVersion: Int64
    /// When the cookie stops working (whole seconds).
    public var expiresAt: Date

    /// Creates a cookie value.
    public init(sessionID: UUID, tokenVersion: Int64, expiresAt: Date) {
        self.sessionID = sessionID
        self.tokenVersion = tokenVersion
        self.expiresAt = Date(timeIntervalSince1970: expiresAt.timeIntervalSince1970.rounded(.down))
    }

    private static let version: UInt8 = 1
    private static let bodyLength = 1 + 16 + 8 + 8
    /// The length of an encoded value: 65 bytes, 87 base64url characters.
    public static let encodedLength = 87

    /// The cookie value.
    public func encode(with key: SymmetricKey) -> String {
        var body = Data([Self.version])
        MACToken.append(sessionID, to: &body)
        MACToken.append(tokenVersion, to: &body)
        MACToken.append(Int64(expiresAt.timeIntervalSince1970), to: &body)
        return MACToken.seal(body, with: key)
    }

    /// Parses and authenticates a cookie value; nil if this server did not make it.
    public static func decode(_ value: String, with key: SymmetricKey) -> SessionCookieToken? {
        guard let raw = MACToken.open(value, encodedLength: encodedLength, bodyLength: bodyLength, version: version, with: key)
        else { return nil }
        return SessionCookieToken(
            sessionID: MACToken.uuid(raw, at: 1), tokenVersion: MACToken.int64(raw, at: 17),
            expiresAt: Date(timeIntervalSince1970: TimeInterval(MACToken.int64(raw, at: 25))))
    }
}

/// Cookie mode for web apps: a session cookie made from an access token's session, renewed on each
/// read (sliding, never past the session's absolute end), refused the moment its session ends, its
/// user's token version moves or its user is deleted.
public struct WebSessions: Sendable {
    /// Checks the access token that opens cookie mode.
    public let authenticator: AccessTokenAuthenticator
    /// Looks sessions up and keeps them alive.
    public let store: any SessionStore
    /// Keys the cookie MAC.
    public let secrets: ServerSecrets
    /// Lifetimes.
    public let policy: TokenPolicy
    /// How long a cookie lives after its last renewal.
    public let cookieLifetime: TimeInterval
    /// The clock.
    public let clock: any TegataClock
    /// Signs the page's access token.
    public let issuer: TokenIssuer
    /// The page token's lifetime (capped by the cookie's expiry).
    public let pageTokenLifetime: TimeInterval
    /// A read renews the session's idle clock only if it is older than this (a write per read is not needed).
    public static let touchInterval: TimeInterval = 60

    /// Creates the service.
    public init(
        authenticator: AccessTokenAuthenticator, store: any SessionStore, secrets: ServerSecrets, policy: TokenPolicy,
        cookieLifetime: TimeInterval, clock: any TegataClock, issuer: TokenIssuer, pageTokenLifetime: TimeInterval
    ) {
        self.issuer = issuer
        self.pageTokenLifetime = pageTokenLifetime
        self.authenticator = authenticator
        self.store = store
        self.secrets = secrets
        self.policy = policy
        self.cookieLifetime = cookieLifetime
        self.clock = clock
    }

    /// A live web session: its user and the cookie to set.
    public struct Issued: Sendable {
        /// The user.
        public var user: UserRecord
        /// The cookie value.
        public var cookie: String
        /// When the cookie expires.
        public var expiresAt: Date
        /// A short-lived access token of the session for the page to call its own APIs with (kept
        /// in memory only; never a refresh token).
        public var accessToken: String
        /// Its lifetime in seconds.
        public var accessTokenExpiresIn: Int
    }

    /// Opens cookie mode for the session of a valid access token (a DPoP-bound one with its proof).
    public func open(accessToken: PresentedAccessToken) async throws -> Issued {
        let (claims, session, user) = try await authenticator.authenticate(accessToken, withUser: true)
        guard let user else { throw TegataError.invalidToken("the user of this access token no longer exists") }
        // The cookie would be a credential of the session that works without the session's key.
        guard session.dpopThumbprint == nil else {
            throw TegataError.invalidRequest("a session bound to a DPoP key cannot become a cookie session; sign the web page in on its own")
        }
        return try issue(session: session, user: user, tokenVersion: claims.tv)
    }

    /// Checks a cookie and renews it; `invalid_token` (sign in again) if it is missing, forged,
    /// expired, or its session, token version or user is gone.
    public func renew(cookie: String?) async throws -> Issued {
        let (token, session, user) = try await check(cookie)
        var live = session
        let now = clock.now()
        if now.timeIntervalSince(session.lastRefreshedAt) >= Self.touchInterval {
            guard try await store.touchSession(id: session.id, now: now) else { throw Self.signInAgain }
            live.lastRefreshedAt = now
        }
        return try issue(session: live, user: user, tokenVersion: token.tokenVersion)
    }

    /// Ends the cookie's session (a `session` revocation event, like a local logout).
    @discardableResult
    public func end(cookie: String?) async throws -> Session {
        let (_, session, _) = try await check(cookie)
        let now = clock.now()
        _ = try await store.revokeSession(
            id: session.id, ownedBy: session.userID, devices: .none, now: now, eventUntil: policy.revocationHorizon(from: now))
        return session
    }

    /// The session and user of a valid cookie, for cookie-authenticated calls (a logout);
    /// `invalid_token` (sign in again) as for `renew`.
    public func caller(cookie: String?) async throws -> (session: Session, user: UserRecord) {
        let (_, session, user) = try await check(cookie)
        return (session, user)
    }

    static let signInAgain = TegataError.invalidToken("no valid session: sign in again")

    private func check(_ cookie: String?) async throws -> (SessionCookieToken, Session, UserRecord) {
        let now = clock.now()
        guard let cookie, let token = SessionCookieToken.decode(cookie, with: secrets.sessionCookieKey), now < token.expiresAt,
              let state = try await store.authState(sessionID: token.sessionID.uuidString.lowercased(), jti: nil, withUser: true),
              state.session.isLive(at: now, policy: policy.sessions), state.userTokenVersion == token.tokenVersion,
              let user = state.user
        else { throw Self.signInAgain }
        return (token, state.session, user)
    }

    private func issue(session: Session, user: UserRecord, tokenVersion: Int64) throws -> Issued {
        let now = clock.now()
        let expiry = min(now.addingTimeInterval(cookieLifetime), session.absoluteExpiresAt)
        guard let sid = UUID(uuidString: session.id), expiry > now else { throw Self.signInAgain }
        let token = SessionCookieToken(sessionID: sid, tokenVersion: tokenVersion, expiresAt: expiry)
        // The page token never outlives the cookie it came with.
        let lifetime = min(pageTokenLifetime, expiry.timeIntervalSince(now).rounded(.down))
        guard lifetime >= 1 else { throw Self.signInAgain }
        let page = try issuer.accessToken(for: user, session: session, now: now, lifetime: lifetime)
        return Issued(
            user: user, cookie: token.encode(with: secrets.sessionCookieKey), expiresAt: token.expiresAt,
            accessToken: page.token, accessTokenExpiresIn: page.expiresIn)
    }
}
