import Foundation
import Synchronization

/// The proofs a verifier has accepted, each until it could no longer be accepted: a copied proof
/// presented again is refused. In memory, per process — a resource server with several replicas
/// has one per replica, so a proof replayed at another replica within its short lifetime passes
/// there (the access token's own binding still holds: the copy works only for that one request).
final class DPoPReplayCache: Sendable {
    private struct State {
        var until: [String: Date] = [:]
        var nextSweep = Date.distantPast
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = max(1, capacity) }

    enum Outcome: Equatable { case fresh, replayed, full }

    /// Records `key` until `until`; `replayed` if it is recorded already and not expired, `full`
    /// when the cache holds `capacity` live proofs.
    func remember(_ key: String, until: Date, now: Date) -> Outcome {
        state.withLock { state in
            if let known = state.until[key], known > now { return .replayed }
            if state.until.count >= capacity || now >= state.nextSweep {
                state.until = state.until.filter { $0.value > now }
                state.nextSweep = now.addingTimeInterval(60)
                guard state.until.count < capacity else { return .full }
            }
            state.until[key] = until
            return .fresh
        }
    }
}
