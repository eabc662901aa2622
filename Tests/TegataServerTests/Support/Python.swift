import Foundation

/// Runs independent Python tools (PyJWT, Authlib) that `.ci/run` installs. On a developer's machine
/// a missing module skips the test; under CI (`CI` set) it runs and fails, so a missing install step
/// cannot pass unnoticed.
enum Python {
    /// Whether `python3 -c "import <module>"` succeeds.
    static func hasModule(_ module: String) -> Bool {
        (try? run("import \(module)", arguments: []))?.status == 0
    }

    /// Whether a test needing `module` should run: it is installed, or this is CI.
    static func shouldRun(needing module: String) -> Bool {
        hasModule(module) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Runs `script` with `arguments` (as `sys.argv[1...]`) and returns its exit status and output.
    static func run(_ script: String, arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
