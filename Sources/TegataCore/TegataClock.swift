import Foundation
import Synchronization

/// The source of "now" for all domain code. Domain code never calls `Date()`; tests move a ``ManualClock``.
public protocol TegataClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The real clock.
public struct SystemClock: TegataClock {
    /// Creates the real clock.
    public init() {}
    /// The current time.
    public func now() -> Date { Date() }
}

/// A clock that moves only when told to. For tests and simulations.
public final class ManualClock: TegataClock {
    private let current: Mutex<Date>

    /// Creates a clock stopped at `start`.
    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    /// The clock's time.
    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward (or back, with a negative interval).
    public func advance(by interval: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(interval) }
    }

    /// Sets the clock's time.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
