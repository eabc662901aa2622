import Synchronization

/// A first-come, first-served lock for async code in one process.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Waits until the lock is free and takes it.
    func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                guard state.locked else {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Passes the lock to the longest waiter, or frees it.
    func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    /// A held lock that releases once.
    final class Held: CredentialStorageLock {
        private let lock: AsyncLock
        private let released = Atomic(false)

        init(_ lock: AsyncLock) { self.lock = lock }

        func unlock() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            lock.unlock()
        }
    }
}
