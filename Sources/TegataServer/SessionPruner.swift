import Foundation
import Logging
import ServiceLifecycle
import TegataCore

/// Deletes ended sessions and revocation events that no longer matter, every `interval`, in small
/// batches so that the writer is never held for long.
struct SessionPruner: Service {
    let store: any StoreLifecycle & AuditStore
    let clock: any TegataClock
    let interval: TimeInterval
    let idleLifetime: TimeInterval
    /// How long audit events are kept; nil: no audit table.
    var auditRetention: TimeInterval? = nil
    let logger: Logger
    /// Rows of each kind deleted per transaction.
    static let batch = 500

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(interval))
                    await pruneOnce()
                }
            }
        } catch is CancellationError {
            // Shutdown.
        }
    }

    /// One pass: batches until a batch comes back short.
    func pruneOnce() async {
        var total = PruneResult(sessions: 0, events: 0)
        var auditEvents = 0
        do {
            while true {
                let now = clock.now()
                let result = try await store.prune(
                    now: now, idleLifetime: idleLifetime,
                    webhookEventsBefore: now.addingTimeInterval(-BillingEvent.idRetention), limit: Self.batch)
                total.sessions += result.sessions
                total.events += result.events
                total.webhookEvents += result.webhookEvents
                total.usedIDTokens += result.usedIDTokens
                total.rateLimitBuckets += result.rateLimitBuckets
                let counts = [result.sessions, result.events, result.webhookEvents, result.usedIDTokens, result.rateLimitBuckets]
                if counts.allSatisfy({ $0 < Self.batch }) { break }
                await Task.yield()
            }
            if let auditRetention {
                let before = clock.now().addingTimeInterval(-auditRetention)
                while true {
                    let deleted = try await store.pruneAuditEvents(before: before, limit: Self.batch)
                    auditEvents += deleted
                    if deleted < Self.batch { break }
                    await Task.yield()
                }
            }
        } catch {
            logger.error("pruning failed", metadata: ["error": "\(error)"])
        }
        if total != PruneResult(sessions: 0, events: 0) || auditEvents > 0 {
            logger.info(
                "pruned",
                metadata: ["sessions": "\(total.sessions)", "revocation_events": "\(total.events)",
                           "webhook_events": "\(total.webhookEvents)", "used_id_tokens": "\(total.usedIDTokens)",
                           "rate_limit_buckets": "\(total.rateLimitBuckets)", "audit_events": "\(auditEvents)"])
        }
    }
}
