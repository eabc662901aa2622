import Foundation

/// Where a client keeps its credentials. Implementations: `KeychainCredentialStorage` (Apple
/// platforms), `FileCredentialStorage` (Linux and tools) and `InMemoryCredentialStorage` (tests).
///
/// Several clients, in one process or in several (an app and its widget), may share one store. They
/// coordinate through `lock()`: a client takes it around every refresh, sign-in and sign-out and
/// re-reads the store after taking it, so one process never spends a refresh token that another has
/// already rotated (which the server would treat as a replay and end the session).
public protocol CredentialStorage: Sendable {
    /// The stored credentials, or nil when there are none.
    func load() throws -> StoredCredentials?
    /// Replaces the stored credentials, atomically: a reader sees the old value or the new one.
    func save(_ credentials: StoredCredentials) throws
    /// Removes the stored credentials.
    func delete() throws
    /// Waits for the store's exclusive lock. Release it with `unlock()` on the returned value.
    func lock() async throws -> any CredentialStorageLock
}

/// A held store lock.
public protocol CredentialStorageLock: Sendable {
    /// Releases the lock. Calling it again does nothing.
    func unlock()
}
