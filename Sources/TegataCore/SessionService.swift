import Foundation
import TegataTokens

/// Ending sessions: logout scopes, the session list, deleting one session, deleting the account.
public struct SessionService: Sendable {
    /// Sessions and users live here.
    public let store: any SessionStore & AccountStore
    /// Token lifetimes (for how long revocations are remembered).
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock

    /// Creates the service.
    public init(store: any SessionStore & AccountStore, policy: TokenPolicy, clock: any TegataClock) {
        self.store = store
        self.policy = policy
        self.clock = clock
    }

    /// Which sessions a logout ends, and which device registrations with them.
    public enum LogoutScope: String, Sendable {
        /// The caller's session. Its device stays registered: signing out is not losing the device.
        case local
        /// Every session of the user (and every access token: the token version moves), and every
        /// device registered to the user — except the caller's own device when the user is
        /// anonymous, for whom it is the only way back into the account.
        case global
        /// Every session of the user but the caller's, and every device of the user but the
        /// caller's own.
        case others
    }

    /// The device registrations a logout of `scope` ends, for a caller signed in on `device` (nil
    /// for a session not opened by a device sign-in).
    public static func devicesEnded(by scope: LogoutScope, callerDevice device: String?, anonymous: Bool) -> DeviceRevocation {
        switch scope {
        case .local: .none
        case .global: .allOfUser(keeping: anonymous ? device : nil)
        case .others: .allOfUser(keeping: device)
        }
    }

    /// Ends sessions of the caller, signed in on `session` (with an access token or the session's
    /// cookie), by scope; `anonymous` is whether the user has no other way to sign in than a device.
    public func logout(session: Session, anonymous: Bool, scope: LogoutScope) async throws {
        let now = clock.now()
        let until = policy.revocationHorizon(from: now)
        let devices = Self.devicesEnded(by: scope, callerDevice: session.deviceID, anonymous: anonymous)
        switch scope {
        case .local:
            _ = try await store.revokeSession(id: session.id, ownedBy: session.userID, devices: devices, now: now, eventUntil: until)
        case .global:
            try await store.revokeSessions(
                userID: session.userID, except: nil, bumpTokenVersion: true, devices: devices, now: now, eventUntil: until)
        case .others:
            try await store.revokeSessions(
                userID: session.userID, except: session.id, bumpTokenVersion: false, devices: devices, now: now, eventUntil: until)
        }
    }

    /// The caller's live sessions.
    public func sessions(of claims: AccessTokenClaims) async throws -> [Session] {
        try await store.liveSessions(userID: claims.sub, now: clock.now(), idleLifetime: policy.sessions.idleLifetime)
    }

    /// Revokes one of the caller's sessions (signed in on `session`) and the device registration
    /// that opened it, unless that is the caller's own device; `not_found` if it is not a live
    /// session of theirs.
    public func revokeSession(id: String, of claims: AccessTokenClaims, callerSession session: Session) async throws {
        let now = clock.now()
        guard try await store.revokeSession(
            id: id, ownedBy: claims.sub, devices: .ofEndedSessions(keeping: session.deviceID), now: now,
            eventUntil: policy.revocationHorizon(from: now))
        else { throw TegataError.notFound("no such session") }
    }

    /// Deletes the caller's account and everything it owns; every token of it stops working at once.
    public func deleteAccount(_ claims: AccessTokenClaims) async throws {
        let now = clock.now()
        _ = try await store.deleteUser(id: claims.sub, now: now, eventUntil: policy.revocationHorizon(from: now))
    }
}
