import Foundation
import TegataTokens
import TegataWire

/// RFC 7009 revocation: a refresh token revokes its whole session; an access token is denied until
/// its `exp`. The hint only saves work: a wrong hint still finds the token, and an unknown or invalid
/// token is not an error.
public struct TokenRevocation: Sendable {
    /// Sessions live here.
    public let store: any SessionStore
    /// Refresh-token key.
    public let secrets: ServerSecrets
    /// Verifies access tokens.
    public let keys: ServerKeys
    /// Token policy.
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock

    /// Creates the service.
    public init(store: any SessionStore, secrets: ServerSecrets, keys: ServerKeys, policy: TokenPolicy, clock: any TegataClock) {
        self.store = store
        self.secrets = secrets
        self.keys = keys
        self.policy = policy
        self.clock = clock
    }

    /// What a revocation ended.
    public enum Revoked: Sendable, Equatable {
        /// A refresh token's session (`ended`: false when it had ended before).
        case session(id: String, ended: Bool)
        /// An access token of `userID`'s session `sessionID`, denied until it expires.
        case accessToken(userID: String, sessionID: String)
        /// Not a live token of this server: nothing to do.
        case nothing
    }

    /// Revokes `token` if it is one of ours; otherwise does nothing. A token bound to a DPoP key —
    /// a bound session's refresh token, or an access token with `cnf.jkt` — is revoked only with a
    /// proof by that key (`dpopKey`, the thumbprint of the request's verified proof): otherwise
    /// `invalid_dpop_proof` and nothing changes, so whoever copied a bound token cannot end the
    /// owner's session with it either.
    @discardableResult
    public func revoke(_ token: String, hint: String?, dpopKey: String? = nil) async throws -> Revoked {
        let now = clock.now()
        if let refresh = RefreshToken.decode(token, with: secrets.refreshTokenKey) {
            let id = refresh.sessionID.uuidString.lowercased()
            if let bound = try await store.session(id: id)?.dpopThumbprint {
                try Self.requireProof(by: bound, dpopKey)
            }
            let ended = try await store.revokeSession(
                id: id, ownedBy: nil, devices: .none, now: now, eventUntil: policy.revocationHorizon(from: now))
            return .session(id: id, ended: ended)
        }
        // A signature check only: an expired access token needs no revocation, and its issuer and
        // audience are ours if our key signed it.
        guard let claims = try? keys.ring(at: now).verifySignature(token) else { return .nothing }
        let expiry = Date(timeIntervalSince1970: TimeInterval(claims.exp)).addingTimeInterval(policy.leeway)
        guard expiry > now else { return .nothing }
        if let bound = claims.cnf?.jkt { try Self.requireProof(by: bound, dpopKey) }
        try await store.revokeAccessToken(jti: claims.jti, until: expiry, now: now)
        return .accessToken(userID: claims.sub, sessionID: claims.sid)
    }

    private static func requireProof(by bound: String, _ presented: String?) throws {
        guard let presented else {
            throw TegataError.invalidDPoPProof("this token is bound to a DPoP key: revoke it with a DPoP proof made with that key")
        }
        guard presented == bound else { throw TegataError.invalidDPoPProof("this token is bound to another DPoP key than the proof's") }
    }
}
