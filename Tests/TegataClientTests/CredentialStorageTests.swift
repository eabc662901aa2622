import Foundation
import Synchronization
import TegataClient
import TegataServer
import TegataTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The file store (permissions, atomic replacement, locking) and several real processes sharing it.
@Suite struct CredentialStorageTests {
    static func sample(_ n: Int = 1) -> StoredCredentials {
        StoredCredentials(
            device: DeviceCredentials(id: "device-\(n)-0000", secret: String(repeating: "s", count: 43), userID: "user-\(n)"),
            session: SessionCredentials(
                accessToken: "at-\(n)", accessTokenReceivedAt: Date(timeIntervalSince1970: 1_800_000_000),
                accessTokenExpiresAt: Date(timeIntervalSince1970: 1_800_000_900.5), refreshToken: "rt-\(n)",
                user: .init(id: "user-\(n)", anon: true, createdAt: Date(timeIntervalSince1970: 1_700_000_000))))
    }

    static func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("tegata-store-\(UUID().uuidString)/nested/credentials.json")
    }

    @Test func theFileIsOwnerOnlyAndReplacedAtomically() throws {
        let url = Self.temporaryFile()
        let store = FileCredentialStorage(url: url)
        #expect(try store.load() == nil)
        try store.save(Self.sample(1))
        try store.save(Self.sample(2))
        #expect(try store.load() == Self.sample(2))

        let fileMode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        let directoryMode = try FileManager.default.attributesOfItem(atPath: url.deletingLastPathComponent().path)[.posixPermissions] as? Int
        #expect(fileMode == 0o600)
        #expect(directoryMode == 0o700)
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["credentials.json"])

        try store.delete()
        #expect(try store.load() == nil)
        try store.delete()  // deleting nothing is fine
    }

    @Test func aCorruptFileIsAStorageErrorNotACrash() async throws {
        let url = Self.temporaryFile()
        let store = FileCredentialStorage(url: url)
        try store.save(Self.sample())
        try Data("{not json".utf8).write(to: url)
        let error = #expect(throws: TegataClientError.self) { _ = try store.load() }
        #expect(error?.code == .storage)
        #expect(error?.description.contains("rt-1") == false)
        // A client on a corrupt store starts signed out instead of failing.
        let client = TegataClient(configuration: .init(baseURL: URL(string: "http://127.0.0.1:1")!), storage: store)
        #expect(await client.currentUser == nil)
    }

    @Test func theLockExcludesASecondHolderUntilReleased() async throws {
        let url = Self.temporaryFile()
        let first = FileCredentialStorage(url: url)
        let second = FileCredentialStorage(url: url, lockTimeout: .milliseconds(200))
        let held = try await first.lock()
        let error = await #expect(throws: TegataClientError.self) { _ = try await second.lock() }
        #expect(error?.code == .storage)
        held.unlock()
        held.unlock()  // a second unlock does nothing
        let again = try await second.lock()
        again.unlock()
    }

    @Test func theInMemoryLockIsFirstComeFirstServed() async throws {
        let store = InMemoryCredentialStorage()
        let order = Recorder()
        let held = try await store.lock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<5 {
                group.addTask {
                    let lock = try await store.lock()
                    await order.append(n)
                    lock.unlock()
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(await order.values.isEmpty)
            held.unlock()
            try await group.waitForAll()
        }
        #expect(await order.values == [0, 1, 2, 3, 4])
    }

    /// Two processes (an app and its widget) renew one session through one file, 15 times each,
    /// with no reuse grace: a refresh token spent twice would end the session and fail a probe.
    @Test func twoProcessesSharingAFileNeverSpendARefreshTokenTwice() async throws {
        try await LiveTegata.with({ $0.refreshReuseGrace = 0 }) { server in
            let url = Self.temporaryFile()
            let client = TegataClient.make(server, storage: FileCredentialStorage(url: url))
            let user = try await client.signInWithDevice()
            let sid = sessionID(of: try await client.accessToken())

            let probe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("tegata-client-probe")
            let results = try await withThrowingTaskGroup(of: (Int32, String).self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await Self.run(probe, [server.baseURL.absoluteString, url.path, "15"])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (status, output) in results {
                #expect(status == 0, "\(output)")
                #expect(output.contains("ok 15"))
            }
            // One session, alive, rotated at least once per round of one process.
            let sessions = try await server.sessions(ofUser: user.id)
            #expect(sessions.map(\.revoked) == [false])
            #expect(try await server.generation(ofSession: sid) >= 15)
            // The first client picks up the latest token from the file and renews it.
            try await client.refreshSession()
            #expect(try await server.sessions(ofUser: user.id).map(\.revoked) == [false])
        }
    }

    /// Runs an executable to its end and returns its status and output.
    static func run(_ executable: URL, _ arguments: [String]) async throws -> (Int32, String) {
        let child = try ChildProcess(executable: executable, arguments: arguments)
        let status = try await child.waitForExit(timeout: 120)
        return (status, child.output)
    }
}

actor Recorder {
    private(set) var values: [Int] = []
    func append(_ value: Int) { values.append(value) }
}
