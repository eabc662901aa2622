import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, its standard output and error going to one file.
///
/// Not Foundation's `Process`: on Linux its `run()` reads past a `dirent` while it closes the
/// parent's file descriptors and crashes the test process now and then (swift-corelibs-foundation
/// #5472, seen here in a full `swift test`). Tests that spawn programs use this instead.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    /// Where its output goes.
    public let outputFile: URL
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`. `environment` nil inherits this process's.
    public init(executable: URL, arguments: [String] = [], environment: [String: String]? = nil) throws {
        outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-child-\(UUID().uuidString).log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of this process leaks into the child (listening sockets of test servers, say).
        // glibc 2.34+ has this; Swift's Glibc module does not declare it, so it is looked up.
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }

        var child: pid_t = 0
        let result: Int32
        if let envp {
            result = posix_spawn(&child, executable.path, &actions, nil, argv, envp)
        } else {
            result = posix_spawn(&child, executable.path, &actions, nil, argv, environ)
        }
        guard result == 0 else {
            throw ChildProcessError(description: "cannot start \(executable.lastPathComponent): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    /// Everything the child wrote so far.
    public var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }

    /// Whether the child has not exited yet (an exited child is reaped and its status kept).
    public var isRunning: Bool {
        status.withLock { status in
            guard status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status == nil
        }
    }

    /// The exit code, or the number of the signal that ended it (as Foundation's `Process` reports);
    /// nil while it runs.
    public var terminationStatus: Int32? {
        _ = isRunning
        return status.withLock { $0 }.map { raw in raw & 0x7F == 0 ? (raw >> 8) & 0xFF : raw & 0x7F }
    }

    /// Sends `signal` to the child.
    public func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits (polling, so no thread blocks) until the child exits; SIGKILLs it past `timeout`.
    @discardableResult
    public func waitForExit(timeout: TimeInterval = 60) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() > deadline {
                send(SIGKILL)
                throw ChildProcessError(description: "the child did not exit within \(Int(timeout)) s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return terminationStatus ?? -1
    }

    /// Ends the child (SIGTERM, then SIGKILL after 10 s) and waits for it.
    public func stop() async {
        send(SIGTERM)
        if (try? await waitForExit(timeout: 10)) == nil {
            send(SIGKILL)
            _ = try? await waitForExit(timeout: 10)
        }
    }

    deinit {
        if status.withLock({ $0 }) == nil { kill(pid, SIGKILL); var raw: Int32 = 0; waitpid(pid, &raw, 0) }
        try? FileManager.default.removeItem(at: outputFile)
    }
}

/// A child process could not be started or did not end.
public struct ChildProcessError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}
