// Fills a Tegata database with device users, each with its device and one session, for the scale
// benchmark (Benchmarks/scale-bench.sh): a benchmark tool, not a test.
//
// It opens the database the way `tegata serve` does (the same TEGATA_* configuration, the same
// store, the same migrations and keys) and writes through the store's own device sign-in — the
// transaction a new device's `POST /v1/auth/device` commits, with many in flight so that SQLite's
// group commit batches them — without HTTP, JSON or token signing, so that ten million sessions
// take minutes. Ids are made as the server makes them (time-ordered UUIDs for users and sessions).
//
// Usage: tegata-scale-fill <sessions to add> <sample size> <token file>
// Writes, for a uniform sample of the sessions it created, one line per session to the token file:
// `<refresh token> <access token>`, both as the server would issue them now (the access token
// lives for TEGATA_ACCESS_TOKEN_TTL).
import Foundation
import Logging
import TegataCore
import TegataServer
import TegataWire

@main
struct ScaleFill {
    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("tegata-scale-fill: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 4, let count = Int(arguments[1]), count >= 0, let sampleSize = Int(arguments[2]), sampleSize >= 0 else {
            FileHandle.standardError.write(Data("usage: tegata-scale-fill <sessions to add> <sample size> <token file>\n".utf8))
            exit(64)
        }
        var logger = Logger(label: "tegata-scale-fill")
        logger.logLevel = .warning
        let configuration = try TegataConfiguration.load(file: nil, environment: ProcessInfo.processInfo.environment)
        let services = try await TegataServices.make(configuration: configuration, clock: SystemClock(), logger: logger)
        let store = services.store
        let secretText = "scale-benchmark-device-secret-0123456789"
        let hash = services.secrets.hash(try DeviceCredentials(deviceID: "scale-fill-0000", secret: secretText, platform: "ios").secret)
        let policy = services.policy
        let run = String(UUID().uuidString.prefix(8)).lowercased()

        // Reservoir sample (algorithm R) of the sessions made, with their users.
        var sample: [(UserRecord, Session)] = []
        var seen = 0
        var generator = SystemRandomNumberGenerator()
        let started = ContinuousClock.now
        var lastReport = started
        let inFlight = 256
        try await withThrowingTaskGroup(of: (UserRecord, Session).self) { group in
            func add(_ index: Int) throws {
                let credentials = try DeviceCredentials(deviceID: "scale-\(run)-\(index)", secret: secretText, platform: "ios")
                let now = Date()
                let command = DeviceSignInCommand(
                    credentials: credentials, secretMatches: { $0 == hash }, secretHash: hash,
                    newUserID: RandomID.timeOrderedUUID(now: now), newSessionID: RandomID.timeOrderedUUID(now: now), clientID: policy.clientID, now: now,
                    absoluteExpiresAt: now.addingTimeInterval(policy.sessions.absoluteLifetime))
                group.addTask {
                    switch try await store.deviceSignIn(command) {
                    case .registered(let record, let session): return (record, session)
                    case let other: throw Unexpected(description: "a new device's sign-in answered \(other)")
                    }
                }
            }
            var next = 0
            while next < min(inFlight, count) { try add(next); next += 1 }
            while let made = try await group.next() {
                seen += 1
                if sample.count < sampleSize {
                    sample.append(made)
                } else if sampleSize > 0 {
                    let slot = Int.random(in: 0..<seen, using: &generator)
                    if slot < sampleSize { sample[slot] = made }
                }
                if next < count { try add(next); next += 1 }
                if ContinuousClock.now - lastReport > .seconds(10) {
                    lastReport = ContinuousClock.now
                    let rate = Double(seen) / Self.seconds(ContinuousClock.now - started)
                    FileHandle.standardError.write(Data("  \(seen) of \(count) sessions, \(Int(rate))/s\n".utf8))
                }
            }
        }
        let elapsed = Self.seconds(ContinuousClock.now - started)
        var lines = ""
        let now = Date()
        for (record, session) in sample {
            let tokens = try await services.tokenIssuer.tokenResponse(for: record, session: session, now: now)
            lines += "\(tokens.refreshToken) \(tokens.accessToken)\n"
        }
        try lines.write(toFile: arguments[3], atomically: true, encoding: .utf8)
        await store.close()
        print("added \(count) sessions in \(String(format: "%.1f", elapsed)) s (\(count == 0 ? 0 : Int(Double(count) / elapsed))/s); sampled \(sample.count)")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    struct Unexpected: Error, CustomStringConvertible { let description: String }
}
