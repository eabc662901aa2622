import Synchronization

/// Credentials held in memory only: for tests and for apps that want no persistence. Clients that
/// share one instance coordinate through its lock, as processes sharing a file or Keychain item do.
public final class InMemoryCredentialStorage: CredentialStorage {
    private let value: Mutex<StoredCredentials?>
    private let mutex = AsyncLock()

    /// An empty store, or one holding `credentials`.
    public init(_ credentials: StoredCredentials? = nil) {
        value = Mutex(credentials)
    }

    /// The stored credentials.
    public func load() throws -> StoredCredentials? { value.withLock { $0 } }
    /// Replaces the stored credentials.
    public func save(_ credentials: StoredCredentials) throws { value.withLock { $0 = credentials } }
    /// Removes the stored credentials.
    public func delete() throws { value.withLock { $0 = nil } }

    /// Takes the store's lock.
    public func lock() async throws -> any CredentialStorageLock {
        await mutex.lock()
        return AsyncLock.Held(mutex)
    }
}
