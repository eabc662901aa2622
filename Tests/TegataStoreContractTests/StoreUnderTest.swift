import Foundation
import Logging
import TegataCore
import TegataServer
import TegataStorePostgres
import TegataTestSupport

/// A store the contract suite runs against: every store the package has, opened through the one
/// `StoreFactory` the server and `tegata migrate` use. Each test gets a new, empty store and closes it.
struct StoreUnderTest: Sendable, CustomTestStringConvertible {
    let name: String
    /// Opens a new, empty store, and what removes it afterwards.
    let make: @Sendable () async throws -> (any TegataStore, @Sendable () async -> Void)

    var testDescription: String { name }

    /// SQLite always; PostgreSQL when a server is configured (`TEGATA_TEST_POSTGRES_URL`; `.ci/run`
    /// starts one, and `postgresRunsUnderCI` fails there if it is missing), each test on a database
    /// of its own.
    static let all: [StoreUnderTest] = [sqlite] + (PostgresTestDatabase.isConfigured ? [postgres] : [])

    static let sqlite = StoreUnderTest(name: "sqlite") {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-contract-\(UUID().uuidString)").path
        return (try await StoreFactory.open(TegataConfiguration(dataDirectory: directory), logger: quiet), {})
    }

    static let postgres = StoreUnderTest(name: "postgres") {
        let url = try await PostgresTestDatabase.create()
        var configuration = TegataConfiguration()
        configuration.database = .postgres(try PostgresURL(parsing: url))
        configuration.databasePoolSize = 8
        // Bursts of 20 concurrent transactions on 8 connections: on a machine busy with other
        // work (CI beside a build) a wait for a connection or a row lock took more than the
        // production default of 5 s. The contract is about outcomes, not that bound.
        configuration.databaseLockTimeout = 30
        do {
            return (try await StoreFactory.open(configuration, logger: quiet), { await PostgresTestDatabase.drop(url) })
        } catch {
            await PostgresTestDatabase.drop(url)
            throw error
        }
    }

    static var quiet: Logger {
        var logger = Logger(label: "contract")
        logger.logLevel = .critical
        return logger
    }

    /// Runs `body` on a fresh store, closing it afterwards.
    func with<T: Sendable>(_ body: (any TegataStore) async throws -> T) async throws -> T {
        let (store, remove) = try await make()
        do {
            let result = try await body(store)
            await store.close()
            await remove()
            return result
        } catch {
            await store.close()
            await remove()
            throw error
        }
    }
}

import Testing

/// Fixed times and builders for store commands.
enum Fixture {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let policy = SessionPolicy(idleLifetime: 1_000, absoluteLifetime: 10_000, reuseGrace: 10)

    static func hash(_ secret: String) -> Data { Data(secret.utf8.reversed()) }

    static func deviceSignIn(_ deviceID: String, secret: String = String(repeating: "s", count: 32), at time: Date = now) throws -> DeviceSignInCommand {
        let credentials = try DeviceCredentials(deviceID: deviceID, secret: secret, platform: "ios")
        let stored = hash(secret)
        return DeviceSignInCommand(
            credentials: credentials, secretMatches: { $0 == stored }, secretHash: stored,
            newUserID: UUID().uuidString.lowercased(), newSessionID: UUID().uuidString.lowercased(), clientID: "app",
            now: time, absoluteExpiresAt: time.addingTimeInterval(policy.absoluteLifetime))
    }

    static func identitySignIn(_ provider: String, _ subject: String, at time: Date = now) -> IdentitySignInCommand {
        IdentitySignInCommand(
            identity: ExternalIdentity(provider: provider, subject: subject, email: nil), newUserID: UUID().uuidString.lowercased(),
            newSessionID: UUID().uuidString.lowercased(), clientID: "app", platform: "web", amr: [provider], now: time,
            absoluteExpiresAt: time.addingTimeInterval(policy.absoluteLifetime))
    }

    /// A refresh of `session` presenting `generation` at `time`, decided by the core's rule.
    static func refresh(_ sessionID: String, generation: Int64, at time: Date) -> RefreshCommand {
        RefreshCommand(
            sessionID: sessionID,
            decide: { RefreshDecision.decide(presentedGeneration: generation, session: $0, now: time, policy: policy, grace: policy.reuseGrace) },
            now: time, eventUntil: time.addingTimeInterval(900))
    }

    /// Signs a new device in and returns its user and session.
    static func signedInDevice(_ store: any TegataStore, _ deviceID: String, at time: Date = now) async throws -> (UserRecord, Session) {
        switch try await store.deviceSignIn(try deviceSignIn(deviceID, at: time)) {
        case .registered(let record, let session), .signedIn(let record, let session): return (record, session)
        case let other: throw Failure("device sign-in answered \(other)")
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
