import Foundation
import TegataTestSupport
import Testing

/// The JavaScript client's own tests (`Clients/JavaScript/test`, Node's built-in runner): its pure
/// parts, and the client against a real `tegata serve` — this build's executable — behind a real
/// proxy. Run here so that the README's test command covers them. Without Node on a developer's
/// machine they are skipped; under CI (`CI` set) they run and fail, so a missing Node cannot pass.
@Suite struct JavaScriptClientTests {
    static let packageDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Clients/JavaScript")

    static var nodeIsInstalled: Bool {
        guard let child = try? ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["node", "--version"]) else { return false }
        while child.isRunning { usleep(10_000) }
        return child.terminationStatus == 0
    }

    static var shouldRun: Bool { nodeIsInstalled || ProcessInfo.processInfo.environment["CI"] != nil }

    @Test(.enabled(if: shouldRun, "node is not installed"), .timeLimit(.minutes(5)))
    func nodeTestsPass() async throws {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TEGATA_") }
        environment["TEGATA_BIN"] = TegataProcess.executable.path
        let testDirectory = Self.packageDirectory.appendingPathComponent("test").path
        let child = try ChildProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["node", "--test", testDirectory], environment: environment)
        let status = try await child.waitForExit(timeout: 240)
        let output = child.output
        #expect(status == 0, "node --test failed:\n\(output.suffix(20_000))")
        // The runner found the tests (a renamed directory must not pass as zero tests).
        #expect(output.contains("# pass ") && !output.contains("# pass 0\n"), "\(output.suffix(2_000))")
    }
}
