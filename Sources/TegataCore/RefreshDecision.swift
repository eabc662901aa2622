import Foundation

/// What to do with a presented refresh token, decided from the session's state alone. Pure: no
/// I/O, no clock — the caller passes `now`. The store runs it inside the transaction that holds the
/// session, and applies the result before anything is sent.
public enum RefreshDecision: Sendable, Equatable {
    /// The token is the session's current one: rotate to `newGeneration`.
    case rotate(newGeneration: Int64)
    /// The token is the immediately preceding one, spent less than the grace interval ago (two tabs,
    /// or a retry after a lost response): answer with a fresh access token and the session's
    /// *current* refresh token, without rotating.
    case reissueCurrent
    /// Reuse of a spent token outside the grace rule: revoke the whole session.
    case revokeSession
    /// The token cannot be used and nothing changes (unknown, revoked or expired session).
    case reject(RejectReason)

    /// Why a token is refused without further action.
    public enum RejectReason: Sendable, Equatable {
        /// No such session, or its user was deleted.
        case unknownSession
        /// The session was revoked earlier.
        case revoked
        /// The session passed its idle lifetime.
        case idleExpired
        /// The session passed its absolute lifetime.
        case absolutelyExpired
        /// The session is bound to a DPoP key and the request came without a proof.
        case proofRequired
        /// The session is bound to a DPoP key and the proof was made with another.
        case wrongKey
        /// The request's DPoP proof was presented before (the store's record of it, not the
        /// decision: ``RefreshCommand/singleUse``).
        case proofReplayed
    }

    /// Decides for a token of `presentedGeneration` against `session` (nil when the session or its
    /// user no longer exists).
    ///
    /// - Parameters:
    ///   - grace: the reuse grace interval; 0 disables it.
    ///   - presentedKey: the thumbprint of the key of the request's valid DPoP proof, if it had one.
    ///     A session bound to a key refuses any other (or none) before anything else is looked at:
    ///     someone holding a copied refresh token but not the key can neither use it nor, by
    ///     replaying a spent one, make the session revoke itself.
    public static func decide(
        presentedGeneration: Int64, session: Session?, now: Date, policy: SessionPolicy, grace: TimeInterval,
        presentedKey: String? = nil
    ) -> RefreshDecision {
        guard let session else { return .reject(.unknownSession) }
        if let bound = session.dpopThumbprint {
            guard let presentedKey else { return .reject(.proofRequired) }
            guard presentedKey == bound else { return .reject(.wrongKey) }
        }
        if session.revokedAt != nil { return .reject(.revoked) }
        if now >= session.absoluteExpiresAt { return .reject(.absolutelyExpired) }
        if now >= session.lastRefreshedAt.addingTimeInterval(policy.idleLifetime) { return .reject(.idleExpired) }
        if presentedGeneration == session.generation {
            return .rotate(newGeneration: session.generation + 1)
        }
        // `rotatedAt` is when the current generation was issued, i.e. when the preceding token was
        // spent. Not `lastRefreshedAt`: a cookie renewal moves that, and must not reopen the window.
        if presentedGeneration == session.generation - 1, grace > 0,
           now.timeIntervalSince(session.rotatedAt) < grace {
            return .reissueCurrent
        }
        // An older generation, the preceding one after the grace interval, or one the server never
        // issued: the token family has leaked.
        return .revokeSession
    }
}

extension RefreshDecision.RejectReason {
    /// The `invalid_grant` description for this reason.
    public var message: String {
        switch self {
        case .unknownSession: "the refresh token is not valid"
        case .revoked: "the session of this refresh token was revoked"
        case .idleExpired: "the session expired after a period without use"
        case .absolutelyExpired: "the session reached its maximum lifetime"
        case .proofRequired: "this refresh token is bound to a DPoP key: send a DPoP proof made with that key"
        case .wrongKey: "this refresh token is bound to another DPoP key than the proof's"
        case .proofReplayed: "this DPoP proof was presented before; make a new proof for every request"
        }
    }
}
