import Foundation
import Synchronization
import TegataWire

/// The refresh-token grant: rotation, reuse detection and the grace rule (see ``RefreshDecision``).
public struct RefreshGrant: Sendable {
    /// Sessions live here (and their users, for a disablement).
    public let store: any SessionStore & AccountStore
    /// Makes the token response.
    public let issuer: TokenIssuer
    /// The clock.
    public let clock: any TegataClock
    /// The limits on refreshes per session and failed refreshes per address.
    public let limits: RateLimits
    /// Where outcomes are reported.
    public let events: any SecurityEventSink

    /// Creates the grant.
    public init(
        store: any SessionStore & AccountStore, issuer: TokenIssuer, clock: any TegataClock, limits: RateLimits = .off,
        events: any SecurityEventSink = NoSecurityEvents()
    ) {
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.limits = limits
        self.events = events
    }

    /// Exchanges a refresh token for a new token response. The session state the response describes
    /// is committed before this returns. Every refusal is `invalid_grant`, but for a disabled user's
    /// session: 403 `forbidden`, as its sign-ins answer; `rate_limited` (which ends nothing: the
    /// token stays good) when the session's refreshes or the address's failures are over their limit;
    /// `invalid_dpop_proof` for a session bound to a DPoP key when `dpopKey` (the thumbprint of the
    /// request's verified proof) is nil, and `invalid_grant` when it is another key — neither
    /// changes the session. An unbound session refreshed with a proof stays unbound, but its new
    /// access token is bound to the proof's key.
    ///
    /// `dpopProof`, the record of that proof (``DPoPChecker/unrecordedKey(of:)``), is spent in the
    /// refresh's own transaction: a proof presented before is `invalid_dpop_proof`.
    public func refresh(
        _ refreshToken: String, origin: RequestOrigin = .unknown, dpopKey: String? = nil, dpopProof: SingleUseRecord? = nil
    ) async throws -> TokenResponse {
        let now = clock.now()
        let report = Report()
        do {
            if let address = origin.addressKey { try limits.failedRefreshesPerAddress?.check(address, now: now) }
            let tokens = try await refresh(refreshToken, now: now, report: report, dpopKey: dpopKey, dpopProof: dpopProof)
            events.record(.refresh(report.result ?? .rotated, userID: tokens.user.id, sessionID: report.sessionID), origin: origin)
            return tokens
        } catch let error as TegataError {
            if error.code == .invalidGrant, let address = origin.addressKey {
                limits.failedRefreshesPerAddress?.record(address, now: now)
            }
            let result: SecurityEvent.RefreshResult = error.code == .rateLimited ? .rateLimited : (report.result ?? .invalid)
            events.record(.refresh(result, userID: report.userID, sessionID: report.sessionID), origin: origin)
            throw error
        }
    }

    /// What became of one refresh, for its event.
    private final class Report: Sendable {
        private let state = Mutex<(result: SecurityEvent.RefreshResult?, sessionID: String?, userID: String?)>((nil, nil, nil))
        var result: SecurityEvent.RefreshResult? {
            get { state.withLock { $0.result } }
            set { state.withLock { $0.result = newValue } }
        }
        var sessionID: String? {
            get { state.withLock { $0.sessionID } }
            set { state.withLock { $0.sessionID = newValue } }
        }
        /// The session's user, once the store has read the session.
        var userID: String? {
            get { state.withLock { $0.userID } }
            set { state.withLock { $0.userID = newValue } }
        }
    }

    private func refresh(
        _ refreshToken: String, now: Date, report: Report, dpopKey: String?, dpopProof: SingleUseRecord?
    ) async throws -> TokenResponse {
        guard let token = RefreshToken.decode(refreshToken, with: issuer.secrets.refreshTokenKey) else {
            throw TegataError.invalidGrant("the refresh token is not valid")
        }
        report.sessionID = token.sessionID.uuidString.lowercased()
        try limits.refreshesPerSession?.take(token.sessionID.uuidString, now: now)
        let policy = issuer.policy.sessions
        let presented = token.generation
        let command = RefreshCommand(
            sessionID: token.sessionID.uuidString.lowercased(),
            decide: { session in
                let decision = RefreshDecision.decide(
                    presentedGeneration: presented, session: session, now: now, policy: policy, grace: policy.reuseGrace,
                    presentedKey: dpopKey)
                report.userID = session?.userID
                report.result = switch decision {
                case .rotate: .rotated
                case .reissueCurrent: .graceReissue
                case .revokeSession: .replayRevoked
                case .reject(.unknownSession): .invalid
                case .reject(.revoked): .revoked
                case .reject(.idleExpired), .reject(.absolutelyExpired): .expired
                case .reject(.proofRequired), .reject(.wrongKey): .wrongDPoPKey
                case .reject(.proofReplayed): .invalid
                }
                return decision
            },
            now: now,
            eventUntil: issuer.policy.revocationHorizon(from: now),
            singleUse: dpopProof)
        switch try await store.refresh(command) {
        case .issued(let record, let session):
            if let disabled = record.user.disabled(at: now) {
                // A session opened while its user was being disabled (the disablement ends every
                // session it sees): ended here, before it gets a token of the new token version.
                _ = try await store.revokeSession(
                    id: session.id, ownedBy: nil, devices: .none, now: now, eventUntil: issuer.policy.revocationHorizon(from: now))
                report.result = .userDisabled
                throw disabled.refusal
            }
            return try await issuer.tokenResponse(for: record, session: session, now: now, dpopKey: dpopKey)
        case .revoked:
            throw TegataError.invalidGrant("the refresh token was already used; the session has been revoked")
        case .rejected(.revoked):
            // Ended by a disablement still in force: say so, as a sign-in would.
            if let userID = report.userID, let disabled = try await store.userRecord(userID: userID)?.user.disabled(at: now) {
                report.result = .userDisabled
                throw disabled.refusal
            }
            throw TegataError.invalidGrant(RefreshDecision.RejectReason.revoked.message)
        case .rejected(.proofRequired):
            throw TegataError.invalidDPoPProof(RefreshDecision.RejectReason.proofRequired.message)
        case .rejected(.proofReplayed):
            report.result = .invalid
            throw DPoPChecker.replayed(atResource: false)
        case .rejected(let reason):
            throw TegataError.invalidGrant(reason.message)
        }
    }
}
