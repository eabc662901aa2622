import Foundation
import TegataTokens
import TegataWire

/// RFC 7662 introspection for resource servers: an access token is active while it verifies and its
/// session, token version and `jti` are not revoked — the same check as Tegata's own endpoints; a
/// refresh token while it is its live session's current one.
public struct Introspection: Sendable {
    /// Checks access tokens.
    public let authenticator: AccessTokenAuthenticator
    /// Sessions.
    public let store: any SessionStore
    /// Refresh-token key.
    public let secrets: ServerSecrets
    /// Token policy.
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock

    /// Creates the service.
    public init(authenticator: AccessTokenAuthenticator, store: any SessionStore, secrets: ServerSecrets, policy: TokenPolicy, clock: any TegataClock) {
        self.authenticator = authenticator
        self.store = store
        self.secrets = secrets
        self.policy = policy
        self.clock = clock
    }

    /// The introspection answer for `token`.
    public func introspect(_ token: String) async throws -> IntrospectionResponse {
        if let refresh = RefreshToken.decode(token, with: secrets.refreshTokenKey) {
            let now = clock.now()
            guard let state = try await store.authState(sessionID: refresh.sessionID.uuidString.lowercased(), jti: nil, withUser: false),
                  state.session.isLive(at: now, policy: policy.sessions),
                  state.session.generation == refresh.generation
            else { return .inactive }
            let session = state.session
            return IntrospectionResponse(
                active: true, tokenType: "refresh_token", sub: session.userID, sid: session.id,
                exp: Int64(session.refreshExpiry(policy: policy.sessions).timeIntervalSince1970),
                iat: Int64(session.lastRefreshedAt.timeIntervalSince1970), clientID: session.clientID,
                iss: policy.issuer, cnf: session.dpopThumbprint.map(Confirmation.init(jkt:)))
        }
        do {
            let (claims, _, _) = try await authenticator.authenticate(token)
            return IntrospectionResponse(
                active: true, tokenType: "access_token", sub: claims.sub, sid: claims.sid, exp: claims.exp,
                iat: claims.iat, nbf: claims.nbf, jti: claims.jti, clientID: claims.clientID, iss: claims.iss,
                aud: claims.aud, amr: claims.amr, anon: claims.anon, tv: claims.tv, ent: claims.ent, cnf: claims.cnf, app: claims.app)
        } catch let error as TegataError where error.code == .invalidToken {
            return .inactive
        }
    }
}

/// Resource-server clients (HTTP Basic) allowed to introspect and to follow the revocation feed.
/// Secrets are kept only as keyed hashes and compared in constant time.
public struct ResourceServerClients: Sendable {
    private let hashes: [String: Data]
    private let key: SymmetricKeyBox

    /// Creates the set from configured id/secret pairs.
    public init(configured: [(id: String, secret: String)]) {
        let key = SymmetricKeyBox()
        self.key = key
        var hashes: [String: Data] = [:]
        for entry in configured { hashes[entry.id] = key.mac(entry.secret) }
        self.hashes = hashes
    }

    /// Whether `id` and `secret` belong to a configured client.
    public func authenticate(id: String, secret: String) -> Bool {
        // Compare against a dummy when the id is unknown, so timing does not reveal which ids exist.
        let expected = hashes[id] ?? key.mac("\u{0}unknown-client")
        return key.verify(secret, against: expected) && hashes[id] != nil
    }
}
