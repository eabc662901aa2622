import Foundation
import TegataCore

/// The server's sink for the core's security events: counted in the metrics, by kind and result
/// only (the ids an event carries never become labels), and written to the audit trail: every
/// sign-in and refused sign-in, and each refresh replay. Rate-limited outcomes are audited where
/// the refusal is answered (``ErrorMiddleware``), with the policy's name.
struct ServerSecurityEvents: SecurityEventSink {
    let metrics: TegataMetrics
    let audit: AuditTrail
    let clock: any TegataClock

    func record(_ event: SecurityEvent, origin: RequestOrigin) {
        switch event {
        case .deviceSignIn(let result, let userID, let sessionID):
            metrics.increment("tegata_sign_ins_total", [("method", "device"), ("result", result.rawValue)])
            switch result {
            case .registered, .signedIn:
                signIn(method: "device", newUser: result == .registered, userID: userID, sessionID: sessionID, origin: origin)
            case .wrongSecret, .deviceRevoked, .userDisabled, .hookFailed:
                refusedSignIn(method: "device", reason: result.rawValue, userID: userID, origin: origin)
            case .rateLimited, .invalidRequest:
                break
            }
        case .refresh(let result, let userID, let sessionID):
            metrics.increment("tegata_refreshes_total", [("result", result.rawValue)])
            if result == .replayRevoked {
                audit.record(AuditEvent(
                    .refreshReplay, outcome: .failure, at: clock.now(), origin: origin, userID: userID, sessionID: sessionID,
                    details: ["session_revoked": "true"]))
            }
        case .deviceClaim(let result, let userID, let sessionID):
            metrics.increment("tegata_device_claims_total", [("result", result.rawValue)])
            switch result {
            case .claimed, .signedIn:
                audit.record(AuditEvent(
                    .deviceClaimed, at: clock.now(), origin: origin, userID: userID, sessionID: sessionID, details: ["result": result.rawValue]))
            case .rateLimited, .invalidRequest:
                break
            case .windowClosed, .unknownDevice, .wrongUser, .alreadyClaimed, .deviceRevoked, .userDisabled, .hookFailed:
                audit.record(AuditEvent(
                    .deviceClaimed, outcome: .failure, at: clock.now(), origin: origin, userID: userID, details: ["reason": result.rawValue]))
            }
        case .tokenExchange(let provider, let result, let userID, let sessionID):
            let provider = provider ?? "unknown"
            metrics.increment("tegata_token_exchanges_total", [("provider", provider), ("result", result.rawValue)])
            metrics.increment("tegata_sign_ins_total", [("method", provider), ("result", result.rawValue)])
            switch result {
            case .signedIn, .created:
                signIn(method: provider, newUser: result == .created, userID: userID, sessionID: sessionID, origin: origin)
            case .invalidToken, .replayed, .unavailable, .userDisabled, .hookFailed:
                refusedSignIn(method: provider, reason: result.rawValue, userID: userID, origin: origin)
            case .rateLimited:
                break
            }
        }
    }

    private func signIn(method: String, newUser: Bool, userID: String?, sessionID: String?, origin: RequestOrigin) {
        audit.record(AuditEvent(
            .signIn, at: clock.now(), origin: origin, userID: userID, sessionID: sessionID,
            details: ["method": method, "new_user": newUser ? "true" : "false"]))
    }

    private func refusedSignIn(method: String, reason: String, userID: String?, origin: RequestOrigin) {
        audit.record(AuditEvent(
            .signIn, outcome: .failure, at: clock.now(), origin: origin, userID: userID, details: ["method": method, "reason": reason]))
    }
}

/// Store latencies and SQLite's commit batches, as metrics.
struct StoreMetrics: StoreObserver {
    let metrics: TegataMetrics
    let store: String

    func transaction(_ kind: StoreTransactionKind, nanoseconds: Int64, failed: Bool) {
        metrics.record(
            "tegata_store_transaction_duration_seconds",
            [("store", store), ("kind", kind.rawValue), ("result", failed ? "failed" : "ok")], nanoseconds: nanoseconds)
    }

    func commitBatch(size: Int) {
        metrics.record("tegata_sqlite_commit_batch_size", value: size)
    }
}
