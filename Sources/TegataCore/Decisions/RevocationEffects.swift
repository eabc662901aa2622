import Foundation

/// A feed event a store must record in the same transaction as the change it announces.
public struct NewRevocationEvent: Sendable, Equatable {
    /// What it revokes.
    public var kind: RevocationEvent.Kind
    /// Until when it matters.
    public var until: Date

    /// Creates an event to record.
    public init(kind: RevocationEvent.Kind, until: Date) {
        self.kind = kind
        self.until = until
    }
}

/// What a refresh writes, from its ``RefreshDecision`` and the session it was decided on (pure).
public enum RefreshEffect: Sendable, Equatable {
    /// Store `session` (its new generation, `lastRefreshedAt` and `rotatedAt`, all `now`), then
    /// issue tokens for it.
    case rotate(Session)
    /// Write nothing; issue tokens for the session as it is (its current refresh token).
    case reissue(Session)
    /// Revoke the session (reason `refresh token reuse`) and record `event`; issue nothing.
    case revoke(sessionID: String, event: NewRevocationEvent)
    /// Write nothing; refuse.
    case reject(RefreshDecision.RejectReason)

    /// Whether tokens are issued (a rotation or a reissue): only then is the command's single-use
    /// record (``RefreshCommand/singleUse``) spent.
    public var issuesTokens: Bool {
        switch self {
        case .rotate, .reissue: true
        case .revoke, .reject: false
        }
    }

    /// The effect of `decision` taken on `session` at `now`; a revocation's event lasts until `eventUntil`.
    public static func of(_ decision: RefreshDecision, on session: Session?, now: Date, eventUntil: Date) -> RefreshEffect {
        guard var session else {
            if case .reject(let reason) = decision { return .reject(reason) }
            return .reject(.unknownSession)
        }
        switch decision {
        case .rotate(let generation):
            session.generation = generation
            session.lastRefreshedAt = now
            session.rotatedAt = now
            return .rotate(session)
        case .reissueCurrent:
            return .reissue(session)
        case .revokeSession:
            return .revoke(sessionID: session.id, event: NewRevocationEvent(kind: .session(sid: session.id), until: eventUntil))
        case .reject(let reason):
            return .reject(reason)
        }
    }
}

extension RefreshCommand {
    /// What to write for the session as stored (nil: no such session, or no such user): the
    /// command's decision, turned into effects.
    public func effect(for session: Session?) -> RefreshEffect {
        RefreshEffect.of(decide(session), on: session, now: now, eventUntil: eventUntil)
    }
}

/// A session as a revocation sees it.
public struct SessionHandle: Sendable, Equatable {
    /// The session id.
    public var id: String
    /// The device that opened it, for device sign-ins.
    public var deviceID: String?

    /// Creates a handle.
    public init(id: String, deviceID: String?) {
        self.id = id
        self.deviceID = deviceID
    }
}

/// What ending sessions of one user writes (pure): which sessions and device registrations end,
/// and the feed events that announce it.
public struct SessionRevocationPlan: Sendable, Equatable {
    /// The sessions to mark revoked.
    public var sessionIDs: [String]
    /// The device registrations to mark revoked.
    public var deviceIDs: [String]
    /// The user's new token version, when it moves.
    public var newTokenVersion: Int64?
    /// The feed events to record.
    public var events: [NewRevocationEvent]

    /// Ends one session and, as `devices` says, the device that opened it.
    public static func one(_ session: SessionHandle, devices: DeviceRevocation, userDevices: [String], eventUntil: Date) -> SessionRevocationPlan {
        SessionRevocationPlan(
            sessionIDs: [session.id],
            deviceIDs: ended(devices, sessionDevices: [session.deviceID].compactMap { $0 }, userDevices: userDevices),
            newTokenVersion: nil,
            events: [NewRevocationEvent(kind: .session(sid: session.id), until: eventUntil)])
    }

    /// Ends every one of `live` (the user's unrevoked sessions) but `except`, and the devices
    /// `devices` names among `userDevices` (the user's unrevoked registrations). With
    /// `bumpTokenVersion`, the token version moves past `tokenVersion` and one `user` event
    /// announces it (it kills every access token at once); otherwise one `session` event per session.
    public static func many(
        userID: String, live: [SessionHandle], except: String?, bumpTokenVersion: Bool, tokenVersion: Int64,
        devices: DeviceRevocation, userDevices: [String], eventUntil: Date
    ) -> SessionRevocationPlan {
        let ending = live.filter { $0.id != except }
        let deviceIDs = ended(devices, sessionDevices: ending.compactMap(\.deviceID), userDevices: userDevices)
        if bumpTokenVersion {
            return SessionRevocationPlan(
                sessionIDs: ending.map(\.id), deviceIDs: deviceIDs, newTokenVersion: tokenVersion + 1,
                events: [NewRevocationEvent(kind: .user(sub: userID, tokenVersion: tokenVersion + 1), until: eventUntil)])
        }
        return SessionRevocationPlan(
            sessionIDs: ending.map(\.id), deviceIDs: deviceIDs, newTokenVersion: nil,
            events: ending.map { NewRevocationEvent(kind: .session(sid: $0.id), until: eventUntil) })
    }

    /// The registrations among `userDevices` that `revocation` ends, sorted (a stable write order).
    static func ended(_ revocation: DeviceRevocation, sessionDevices: [String], userDevices: [String]) -> [String] {
        let owned = Set(userDevices)
        switch revocation {
        case .none:
            return []
        case .ofEndedSessions(let keeping):
            return Set(sessionDevices).filter { owned.contains($0) && $0 != keeping }.sorted()
        case .allOfUser(let keeping):
            return owned.filter { $0 != keeping }.sorted()
        }
    }
}

/// What deleting a user writes besides the deletion itself (pure).
public enum UserDeletionPlan {
    /// The `user` event that kills every access token of a user deleted at `tokenVersion`.
    public static func event(userID: String, tokenVersion: Int64, until: Date) -> NewRevocationEvent {
        NewRevocationEvent(kind: .user(sub: userID, tokenVersion: tokenVersion + 1), until: until)
    }
}
