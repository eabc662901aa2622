import Foundation
import Logging
import ServiceLifecycle
import TegataCore

/// Takes the signing-key schedule from the store (or the operator's key file) every `interval`, so
/// that a rotation requested at any replica, or an edit of the key file, is published by every replica (well before the new key signs: the interval is
/// far below the JWKS cache lifetime a planned rotation waits) and its tokens verify everywhere.
/// A token signed by a key not known yet also triggers a reload at once (rate-limited):
/// ``ServerKeys/reloadForUnknownKey(now:minimumInterval:)``.
struct SigningKeyReloader: Service {
    let keys: ServerKeys
    let clock: any TegataClock
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(interval))
                    await reloadOnce()
                }
            }
        } catch is CancellationError {
            // Shutdown.
        }
    }

    func reloadOnce() async {
        do {
            let learned = try await keys.reload(now: clock.now())
            if !learned.isEmpty {
                logger.info("learned new signing keys", metadata: ["kids": "\(learned.map(\.rawValue).joined(separator: ","))"])
            }
        } catch {
            logger.error("reloading the signing keys failed", metadata: ["error": "\(error)"])
        }
    }
}
