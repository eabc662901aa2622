import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Credentials in a JSON file readable by its owner only (mode 0600, in a directory created 0700),
/// replaced atomically (write a new file, flush it, rename it over the old one). Processes sharing
/// the file coordinate with an exclusive `flock(2)` on a `.lock` file next to it; the kernel releases
/// the lock of a process that dies.
///
/// For Linux and command-line tools. On iOS and macOS apps use `KeychainCredentialStorage`.
public struct FileCredentialStorage: CredentialStorage {
    /// The credentials file.
    public let url: URL
    /// How long `lock()` waits for another process before it fails.
    public var lockTimeout: Duration

    /// A store in the file at `url`; the directory is created (0700) on first save.
    public init(url: URL, lockTimeout: Duration = .seconds(60)) {
        self.url = url
        self.lockTimeout = lockTimeout
    }

    /// Reads and decodes the file; nil when it does not exist.
    public func load() throws -> StoredCredentials? {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return nil
        } catch {
            throw TegataClientError.storage("cannot read the credentials file: \(error.localizedDescription)")
        }
        return try StoredCredentials.decodeFromStorage(data, store: "credentials file")
    }

    /// Writes the credentials to a new 0600 file, flushes it and renames it over the old one.
    public func save(_ credentials: StoredCredentials) throws {
        let data = try credentials.encodedForStorage()
        try makeDirectory()
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.posixError("cannot create a temporary credentials file") }
        var written = 0
        let ok = data.withUnsafeBytes { buffer -> Bool in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temporary, url.path) == 0 else {
            let error = Self.posixError("cannot write the credentials file")
            unlink(temporary)
            throw error
        }
        syncDirectory()
    }

    /// Deletes the file; a missing file is not an error.
    public func delete() throws {
        guard unlink(url.path) == 0 || errno == ENOENT else { throw Self.posixError("cannot delete the credentials file") }
        syncDirectory()
    }

    /// Takes an exclusive `flock` on `<file>.lock`, polling every 10 ms until `lockTimeout`.
    public func lock() async throws -> any CredentialStorageLock {
        try makeDirectory()
        return try await FileLock.acquire(path: url.path + ".lock", timeout: lockTimeout)
    }

    private func makeDirectory() throws {
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TegataClientError.storage("cannot create the credentials directory: \(error.localizedDescription)")
        }
    }

    /// Flushes the directory entry so the rename survives a crash.
    private func syncDirectory() {
        let fd = open(url.deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    fileprivate static func posixError(_ what: String) -> TegataClientError {
        TegataClientError.storage("\(what): \(String(cString: strerror(errno)))")
    }

    /// A held `flock`.
    final class FileLock: CredentialStorageLock {
        private let fd: Int32
        private let released = Atomic(false)

        private init(fd: Int32) { self.fd = fd }

        /// Opens (creating, 0600) the file at `path` and takes an exclusive `flock` on it, polling
        /// every 10 ms until `timeout`.
        static func acquire(path: String, timeout: Duration) async throws -> FileLock {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw FileCredentialStorage.posixError("cannot open the credentials lock file") }
            let deadline = ContinuousClock.now + timeout
            while true {
                if flock(fd, LOCK_EX | LOCK_NB) == 0 { return FileLock(fd: fd) }
                guard errno == EWOULDBLOCK || errno == EINTR else {
                    let error = FileCredentialStorage.posixError("cannot lock the credentials file")
                    close(fd)
                    throw error
                }
                guard ContinuousClock.now < deadline else {
                    close(fd)
                    throw TegataClientError.storage("another process held the credentials lock for longer than \(timeout)")
                }
                do {
                    try await Task.sleep(for: .milliseconds(10))
                } catch {
                    close(fd)
                    throw error
                }
            }
        }

        func unlock() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            flock(fd, LOCK_UN)
            close(fd)
        }

        deinit { unlock() }
    }
}
