import Foundation
import Logging
import SQLiteNIO
import TegataCore
import TegataStoreSQLite
import Testing

func temporaryDatabasePath() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-store-\(UUID().uuidString)")
    return directory.appendingPathComponent("tegata.sqlite").path
}

let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()

func command(_ deviceID: String, secret: String, now: Date = Date(timeIntervalSince1970: 1_800_000_000)) throws -> DeviceSignInCommand {
    let credentials = try DeviceCredentials(deviceID: deviceID, secret: secret, platform: "ios")
    let hash = Data(secret.utf8.reversed())  // any deterministic stand-in for the keyed hash; the store only compares
    return DeviceSignInCommand(
        credentials: credentials, secretMatches: { $0 == hash }, secretHash: hash,
        newUserID: UUID().uuidString.lowercased(), newSessionID: UUID().uuidString.lowercased(), clientID: "app",
        now: now, absoluteExpiresAt: now.addingTimeInterval(86_400))
}

@Suite struct SQLiteStoreTests {
    let secret = String(repeating: "a", count: 32)

    @Test func migratesOnceInWALModeAndRecordsTheVersion() async throws {
        let path = temporaryDatabasePath()
        let store = try await SQLiteStore.open(path: path, logger: quietLogger)
        #expect(SQLiteStore.newestSchemaVersion >= 2)
        #expect(try await store.schemaVersion() == SQLiteStore.newestSchemaVersion)
        await store.close()
        let again = try await SQLiteStore.open(path: path, migrate: false, logger: quietLogger)
        #expect(try await again.schemaVersion() == SQLiteStore.newestSchemaVersion)
        await again.close()
        let raw = try await SQLiteConnection.open(storage: .file(path: path))
        let mode = try await raw.query("PRAGMA journal_mode").first?.column("journal_mode")?.string
        #expect(mode == "wal")
        let count = try await raw.query("SELECT COUNT(*) AS n FROM schema_migrations").first?.column("n")?.integer
        #expect(count == SQLiteStore.newestSchemaVersion, "each migration recorded once")
        try await raw.close()
    }

    @Test func refusesANewerSchemaAndAnUnmigratedDatabaseWithoutMigrate() async throws {
        let path = temporaryDatabasePath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        await #expect(throws: (any Error).self) { try await SQLiteStore.open(path: path, migrate: false, logger: quietLogger) }
        let store = try await SQLiteStore.open(path: path, logger: quietLogger)
        await store.close()
        let raw = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await raw.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
        try await raw.close()
        await #expect(throws: (any Error).self) { try await SQLiteStore.open(path: path, logger: quietLogger) }
    }

    @Test func registersThenSignsInThenRejectsAWrongSecret() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), logger: quietLogger)
        defer { Task { await store.close() } }
        guard case .registered(let record, let first) = try await store.deviceSignIn(try command("device-01", secret: secret)) else {
            Issue.record("first sign-in should register"); return
        }
        #expect(record.user.anon && record.user.tokenVersion == 0 && first.amr == ["device"] && first.generation == 0)
        guard case .signedIn(let again, let second) = try await store.deviceSignIn(try command("device-01", secret: secret)) else {
            Issue.record("second sign-in should sign in"); return
        }
        #expect(again.user == record.user)
        #expect(second.id != first.id, "each sign-in opens a session")
        let wrong = try await store.deviceSignIn(try command("device-01", secret: String(repeating: "b", count: 32)))
        #expect(wrong == .wrongSecret)

        let state = try #require(try await store.authState(sessionID: first.id, jti: "some-jti", withUser: false))
        #expect(state.session == first && state.userTokenVersion == 0 && !state.tokenRevoked)
        #expect(try await store.authState(sessionID: "no-such-session", jti: nil, withUser: false) == nil)
        #expect(try await store.userRecord(userID: record.user.id) == record)
        #expect(try await store.userRecord(userID: "nobody") == nil)
    }

    @Test func concurrentFirstSignInsOfOneDeviceCreateOneUser() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), logger: quietLogger)
        defer { Task { await store.close() } }
        let secret = self.secret
        let outcomes = try await withThrowingTaskGroup(of: DeviceSignInOutcome.self) { group in
            for _ in 0..<20 { group.addTask { try await store.deviceSignIn(try command("device-race", secret: secret)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var registered = 0
        var users = Set<String>()
        for outcome in outcomes {
            switch outcome {
            case .registered(let record, _): registered += 1; users.insert(record.user.id)
            case .signedIn(let record, _): users.insert(record.user.id)
            case .wrongSecret, .deviceRevoked, .registrationLimited, .userDisabled, .claimed, .claimRefused: Issue.record("same secret rejected")
            }
        }
        #expect(registered == 1 && users.count == 1)
    }

    @Test func signingKeysComeBackInReverseRotationOrder() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), logger: quietLogger)
        defer { Task { await store.close() } }
        #expect(try await store.signingKeys().isEmpty)
        let old = StoredSigningKey(keyID: "old", algorithm: "ES256", sealedPrivateKey: Data([1, 2]), createdAt: Date(timeIntervalSince1970: 1))
        let new = StoredSigningKey(keyID: "new", algorithm: "ES256", sealedPrivateKey: Data([3]), createdAt: Date(timeIntervalSince1970: 2))
        // Created at the same instant as `new`: the order of storing decides, not the times.
        let pending = StoredSigningKey(
            keyID: "pending", algorithm: "ES256", sealedPrivateKey: Data([4]), createdAt: Date(timeIntervalSince1970: 2),
            activatesAt: Date(timeIntervalSince1970: 500))
        try await store.insertSigningKey(old, removing: [])
        try await store.insertSigningKey(new, removing: [])
        try await store.insertSigningKey(pending, removing: [])
        #expect(try await store.signingKeys() == [pending, new, old])
        #expect(try await store.signingKeys()[0].activatesAt == Date(timeIntervalSince1970: 500))
        await #expect(throws: (any Error).self) { try await store.insertSigningKey(old, removing: []) }
        // A failed insert deletes nothing: one transaction.
        await #expect(throws: (any Error).self) { try await store.insertSigningKey(new, removing: ["old"]) }
        #expect(try await store.signingKeys().map(\.keyID) == ["pending", "new", "old"])
        let newest = StoredSigningKey(keyID: "newest", algorithm: "ES256", sealedPrivateKey: Data([5]), createdAt: Date(timeIntervalSince1970: 3))
        try await store.insertSigningKey(newest, removing: ["old", "pending"])
        #expect(try await store.signingKeys().map(\.keyID) == ["newest", "new"])
        try await store.ping()
    }

    @Test func aFailedTransactionRollsBackAndTheWriterKeepsWorking() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), logger: quietLogger)
        defer { Task { await store.close() } }
        let key = StoredSigningKey(keyID: "k", algorithm: "ES256", sealedPrivateKey: Data([1]), createdAt: Date())
        try await store.insertSigningKey(key, removing: [])
        await #expect(throws: (any Error).self) { try await store.insertSigningKey(key, removing: []) }
        guard case .registered = try await store.deviceSignIn(try command("device-after", secret: secret)) else {
            Issue.record("writer stuck after a failed transaction"); return
        }
    }

    /// A used external ID token is remembered until it expires: a second use is refused, a record
    /// past its time is taken over (its token could not verify any more), and pruning removes it.
    @Test func usedIDTokensAreRememberedUntilTheyExpire() async throws {
        let store = try await SQLiteStore.open(path: temporaryDatabasePath(), logger: quietLogger)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try await store.rememberSingleUse(key: "k1", until: now.addingTimeInterval(600), now: now))
        #expect(try await store.rememberSingleUse(key: "k1", until: now.addingTimeInterval(600), now: now.addingTimeInterval(10)) == false)
        #expect(try await store.rememberSingleUse(key: "k2", until: now.addingTimeInterval(600), now: now))
        let later = now.addingTimeInterval(601)
        #expect(try await store.rememberSingleUse(key: "k1", until: later.addingTimeInterval(600), now: later))
        let pruned = try await store.prune(now: later.addingTimeInterval(601), idleLifetime: 86_400, webhookEventsBefore: .distantPast, limit: 100)
        #expect(pruned.usedIDTokens == 2)
        await store.close()
    }
}
