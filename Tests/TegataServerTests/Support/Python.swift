import Foundation
import TegataTestSupport

/// Runs independent Python tools (PyJWT, Authlib) that `.ci/run` installs. On a developer's machine
/// a missing module skips the test; under CI (`CI` set) it runs and fails, so a missing install step
/// cannot pass unnoticed.
enum Python {
    /// Whether `python3 -c "import <module>"` succeeds.
    static func hasModule(_ module: String) -> Bool {
        (try? runBlocking("import \(module)", arguments: []))?.status == 0
    }

    /// Whether a test needing `module` should run: it is installed, or this is CI.
    static func shouldRun(needing module: String) -> Bool {
        hasModule(module) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Runs `script` with `arguments` (as `sys.argv[1...]`) and returns its exit status and output.
    static func run(_ script: String, arguments: [String]) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", script] + arguments)
        let status = try await child.waitForExit(timeout: 120)
        return (status, child.output)
    }

    /// `run` for a synchronous caller (a test trait's condition).
    private static func runBlocking(_ script: String, arguments: [String]) throws -> (status: Int32, output: String) {
        let child = try ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", script] + arguments)
        while child.isRunning { usleep(10_000) }
        return (child.terminationStatus ?? -1, child.output)
    }
}
