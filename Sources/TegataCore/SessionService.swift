import Foundation
import TegataTokens

/// Ending sessions: logout scopes, the session list, deleting one session, deleting the account.
public struct SessionService: Sendable {
    /// Sessions and users live here.
    public let store: any TegataStore
    /// Token lifetimes (for how long revocations are remembered).
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock

    /// Creates the service.
    public init(store: any TegataStore, policy: TokenPolicy, clock: any TegataClock) {
        self.store = store
        self.policy = policy
        self.clock = clock
    }

    /// Which sessions a logout ends.
    public enum LogoutScope: String, Sendable {
        /// The caller's session.
        case local
        /// Every session of the user (and every access token: the token version moves).
        case global
        /// Every session of the user but the caller's.
        case others
    }

    /// Ends sessions of the caller (`claims`) by scope.
    public func logout(_ claims: AccessTokenClaims, scope: LogoutScope) async throws {
        let now = clock.now()
        let until = policy.revocationHorizon(from: now)
        switch scope {
        case .local:
            _ = try await store.revokeSession(id: claims.sid, ownedBy: claims.sub, now: now, eventUntil: until)
        case .global:
            try await store.revokeSessions(userID: claims.sub, except: nil, bumpTokenVersion: true, now: now, eventUntil: until)
        case .others:
            try await store.revokeSessions(userID: claims.sub, except: claims.sid, bumpTokenVersion: false, now: now, eventUntil: until)
        }
    }

    /// The caller's live sessions.
    public func sessions(of claims: AccessTokenClaims) async throws -> [Session] {
        try await store.liveSessions(userID: claims.sub, now: clock.now(), idleLifetime: policy.sessions.idleLifetime)
    }

    /// Revokes one of the caller's sessions; `not_found` if it is not a live session of theirs.
    public func revokeSession(id: String, of claims: AccessTokenClaims) async throws {
        let now = clock.now()
        guard try await store.revokeSession(id: id, ownedBy: claims.sub, now: now, eventUntil: policy.revocationHorizon(from: now))
        else { throw TegataError.notFound("no such session") }
    }

    /// Deletes the caller's account and everything it owns; every token of it stops working at once.
    public func deleteAccount(_ claims: AccessTokenClaims) async throws {
        let now = clock.now()
        _ = try await store.deleteUser(id: claims.sub, now: now, eventUntil: policy.revocationHorizon(from: now))
    }
}
