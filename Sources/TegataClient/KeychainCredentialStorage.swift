#if canImport(Security)
import Foundation
import Security

/// Credentials in one Keychain item (a generic password holding JSON), readable on this device only
/// (`kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`: never in a backup restored elsewhere, and
/// readable in the background after the first unlock, so refresh works when the app is woken up).
///
/// An app and its extensions share the item through a Keychain access group. They should then also
/// share a lock file in their App Group container (`lockFileURL`), so that two processes never spend
/// the same refresh token; without one, only clients of this process coordinate.
public struct KeychainCredentialStorage: CredentialStorage {
    /// The item's `kSecAttrService`.
    public let service: String
    /// The item's `kSecAttrAccount`.
    public let account: String
    /// The Keychain access group shared by an app and its extensions, if any.
    public let accessGroup: String?
    /// A lock file in a directory every sharing process can open (an App Group container), if any.
    public let lockFileURL: URL?

    private static let processLock = AsyncLock()

    /// A store in the item `service`/`account`, optionally in `accessGroup`.
    public init(service: String = "tegata", account: String = "credentials", accessGroup: String? = nil, lockFileURL: URL? = nil) {
        self.service = service
        self.account = account
        self.accessGroup = accessGroup
        self.lockFileURL = lockFileURL
    }

    private var query: [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup { query[kSecAttrAccessGroup as String] = accessGroup }
        return query
    }

    /// Reads the item; nil when there is none.
    public func load() throws -> StoredCredentials? {
        var search = query
        search[kSecReturnData as String] = true
        search[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(search as CFDictionary, &result)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess, let data = result as? Data else {
            throw TegataClientError.storage("Keychain read failed (OSStatus \(status))")
        }
        return try StoredCredentials.decodeFromStorage(data, store: "Keychain item")
    }

    /// Updates the item, or adds it (this-device-only) when there is none.
    public func save(_ credentials: StoredCredentials) throws {
        let data = try credentials.encodedForStorage()
        let update: [String: Any] = [
            kSecValueData as String: data,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        ]
        var status = SecItemUpdate(query as CFDictionary, update as CFDictionary)
        if status == errSecItemNotFound {
            var add = query
            add.merge(update) { $1 }
            status = SecItemAdd(add as CFDictionary, nil)
        }
        guard status == errSecSuccess else { throw TegataClientError.storage("Keychain write failed (OSStatus \(status))") }
    }

    /// Deletes the item; a missing item is not an error.
    public func delete() throws {
        let status = SecItemDelete(query as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw TegataClientError.storage("Keychain delete failed (OSStatus \(status))")
        }
    }

    /// Takes this process's lock, then the shared lock file's `flock` when `lockFileURL` is set.
    public func lock() async throws -> any CredentialStorageLock {
        await Self.processLock.lock()
        let processHeld = AsyncLock.Held(Self.processLock)
        guard let lockFileURL else { return processHeld }
        do {
            let fileHeld = try await FileCredentialStorage.FileLock.acquire(path: lockFileURL.path, timeout: .seconds(60))
            return BothLocks(inner: fileHeld, outer: processHeld)
        } catch {
            processHeld.unlock()
            throw error
        }
    }

    private struct BothLocks: CredentialStorageLock {
        let inner: any CredentialStorageLock
        let outer: any CredentialStorageLock
        func unlock() {
            inner.unlock()
            outer.unlock()
        }
    }
}
#endif
