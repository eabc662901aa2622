import Foundation

/// A security-relevant outcome of a grant, as the core sees it: the server counts these in its
/// metrics (and writes them to the audit log). Ids are for the audit log only; metrics label an
/// event by its kind and result alone.
public enum SecurityEvent: Sendable, Equatable {
    /// A device sign-in and what became of it.
    case deviceSignIn(DeviceSignInResult, userID: String?, sessionID: String?)
    /// A refresh and what became of it; `sessionID` when the token named one.
    case refresh(RefreshResult, userID: String?, sessionID: String?)
    /// A token exchange with `provider` (nil when the request named none that is configured).
    case tokenExchange(provider: String?, result: TokenExchangeResult, userID: String?, sessionID: String?)
    /// A legacy device claim and what became of it.
    case deviceClaim(DeviceClaimResult, userID: String?, sessionID: String?)

    /// Results of a legacy device claim.
    public enum DeviceClaimResult: String, Sendable, CaseIterable {
        /// The imported device took the presented secret and signed in.
        case claimed
        /// The device had that very secret already (a retried claim): an ordinary sign-in.
        case signedIn = "signed_in"
        /// Claims are not open (not configured, or the configured window has ended).
        case windowClosed = "window_closed"
        /// No device of that id.
        case unknownDevice = "unknown_device"
        /// The device is another user's.
        case wrongUser = "wrong_user"
        /// The device has another secret already.
        case alreadyClaimed = "already_claimed"
        /// The device's registration was revoked (a logout everywhere after the import).
        case deviceRevoked = "device_revoked"
        /// The device's user is disabled.
        case userDisabled = "user_disabled"
        /// Refused by a rate limit; nothing changed.
        case rateLimited = "rate_limited"
        /// A malformed request.
        case invalidRequest = "invalid_request"
        /// The sign-in claims hook failed and the sign-in was refused.
        case hookFailed = "hook_failed"

        /// The result of a refusal.
        public init(_ refusal: DeviceClaimRefusal) {
            switch refusal {
            case .unknownDevice: self = .unknownDevice
            case .wrongUser: self = .wrongUser
            case .alreadyClaimed: self = .alreadyClaimed
            }
        }
    }

    /// Results of a device sign-in.
    public enum DeviceSignInResult: String, Sendable, CaseIterable {
        case registered, signedIn = "signed_in", wrongSecret = "wrong_secret", deviceRevoked = "device_revoked"
        case rateLimited = "rate_limited", invalidRequest = "invalid_request", userDisabled = "user_disabled"
        /// The sign-in claims hook failed and the sign-in was refused.
        case hookFailed = "hook_failed"
    }

    /// Results of a refresh.
    public enum RefreshResult: String, Sendable, CaseIterable {
        /// The session's current token, rotated.
        case rotated
        /// The immediately preceding token within the grace interval: the current one handed out again.
        case graceReissue = "grace_reissue"
        /// A spent token outside the grace rule: the session was revoked.
        case replayRevoked = "replay_revoked"
        /// The session passed its idle or absolute lifetime.
        case expired
        /// The session was revoked earlier.
        case revoked
        /// Not a token of this server, or its session no longer exists.
        case invalid
        /// Refused by a rate limit; nothing changed.
        case rateLimited = "rate_limited"
        /// The session's user is disabled (its sessions were ended when it was).
        case userDisabled = "user_disabled"
        /// The session is bound to a DPoP key and the request had no proof by it (a copied refresh
        /// token used without the device's key, or a client that lost its key); nothing changed.
        case wrongDPoPKey = "wrong_dpop_key"
    }

    /// Results of a token exchange.
    public enum TokenExchangeResult: String, Sendable, CaseIterable {
        /// Signed in an existing user.
        case signedIn = "signed_in"
        /// Created the user.
        case created
        /// The ID token was refused (signature, claims, nonce, unknown provider, bad parameter).
        case invalidToken = "invalid_token"
        /// The ID token had been exchanged or linked before.
        case replayed
        /// Refused by a rate limit.
        case rateLimited = "rate_limited"
        /// The provider's keys could not be had.
        case unavailable
        /// The identity's user is disabled; nothing changed.
        case userDisabled = "user_disabled"
        /// The sign-in claims hook failed and the sign-in was refused.
        case hookFailed = "hook_failed"
    }
}

/// Where the core reports ``SecurityEvent``s. Called after the outcome is committed; must not block.
public protocol SecurityEventSink: Sendable {
    /// Records one event of a request from `origin`.
    func record(_ event: SecurityEvent, origin: RequestOrigin)
}

/// Drops every event (the core's default, and in-process callers without a server).
public struct NoSecurityEvents: SecurityEventSink {
    /// Creates the sink.
    public init() {}
    /// Does nothing.
    public func record(_ event: SecurityEvent, origin: RequestOrigin) {}
}

/// What a store reports about its own work, for metrics: each transaction's latency as its caller
/// waits for it (queueing included) and, for a store that commits several writes together, the
/// size of each batch.
public protocol StoreObserver: Sendable {
    /// A `write` transaction or a `read` took `nanoseconds`; `failed` when it threw.
    func transaction(_ kind: StoreTransactionKind, nanoseconds: Int64, failed: Bool)
    /// One commit covered `size` writes (SQLite's group commit).
    func commitBatch(size: Int)
}

extension StoreObserver {
    /// Runs `work` and reports how long it took, as a `kind` transaction that failed if it threw.
    public func timed<T: Sendable>(_ kind: StoreTransactionKind, _ work: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        func elapsed() -> Int64 {
            let duration = ContinuousClock.now - start
            return duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        }
        do {
            let value = try await work()
            transaction(kind, nanoseconds: elapsed(), failed: false)
            return value
        } catch {
            transaction(kind, nanoseconds: elapsed(), failed: true)
            throw error
        }
    }
}

/// A store transaction's kind.
public enum StoreTransactionKind: String, Sendable {
    case write, read
}

/// Observes nothing.
public struct NoStoreObserver: StoreObserver {
    /// Creates the observer.
    public init() {}
    /// Does nothing.
    public func transaction(_ kind: StoreTransactionKind, nanoseconds: Int64, failed: Bool) {}
    /// Does nothing.
    public func commitBatch(size: Int) {}
}
