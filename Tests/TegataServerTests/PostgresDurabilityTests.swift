import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import TegataCore
import TegataTestSupport
import TegataWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `tegata serve` on a PostgreSQL cluster of the test's own (`Tests/Postgres/cluster.sh`),
/// under a load of refresh chains, killed with SIGKILL: every refresh token received in a 200
/// before the kill must still work at the replica that takes over.
@Suite(.serialized, .enabled(if: PostgresTestDatabase.isConfigured,
                             "no PostgreSQL server configured (TEGATA_TEST_POSTGRES_URL): the PostgreSQL durability tests are skipped"))
struct PostgresDurabilityTests {
    /// A private cluster (a fault must not reach other tests' databases), stopped afterwards.
    static func withCluster<T: Sendable>(_ body: (_ url: String) async throws -> T) async throws -> T {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Postgres/cluster.sh").path
        let directory = "/tmp/tegata-durability-\(UUID().uuidString.prefix(8))"
        let control: @Sendable (String) async throws -> String = { command in
            let process = try ChildProcess(executable: URL(fileURLWithPath: "/bin/bash"), arguments: [script, command, directory])
            let status = try await process.waitForExit(timeout: 120)
            guard status == 0 else { throw Failure("cluster.sh \(command) failed: \(process.output)") }
            return process.output
        }
        let output = try await control("start")
        guard let url = output.split(separator: "\n").first(where: { $0.hasPrefix("postgres://") }).map(String.init) else {
            throw Failure("cluster.sh printed no URL: \(output)")
        }
        do {
            let result = try await body(url)
            _ = try? await control("stop")
            return result
        } catch {
            _ = try? await control("stop")
            throw error
        }
    }

    /// How many answers of each status the load received.
    final class StatusCounts: Sendable {
        private let state = Mutex<[Int: Int]>([:])
        func count(_ status: Int) { state.withLock { $0[status, default: 0] += 1 } }
        var snapshot: [Int: Int] { state.withLock { $0 } }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func environment(url: String, port: Int) -> [String: String] {
        ["TEGATA_PORT": String(port), "TEGATA_DATABASE_URL": url, "TEGATA_LOG_LEVEL": "warning",
         "TEGATA_MASTER_KEY": Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }).base64EncodedString(),
         "TEGATA_ISSUER": "http://127.0.0.1:\(port)",
         // A request in flight at the fault may have committed a rotation whose answer was lost: its
         // chain then holds the preceding token, which the grace rule answers, however long the outage.
         "TEGATA_REFRESH_REUSE_GRACE": "300s"]
    }

    /// Chains of refreshes; statuses other than 200 are counted by code, and a chain backs off
    /// briefly after a 503. Returns when cancelled.
    static func load(port: Int, starts: [String], received: ChainLog, statuses: StatusCounts) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, start) in starts.enumerated() {
                    group.addTask {
                        try? await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                            var token = start
                            while !Task.isCancelled {
                                guard let response = try? await client.execute(refreshRequest(token)) else {
                                    try? await Task.sleep(for: .milliseconds(50))
                                    continue
                                }
                                let code = Int(response.status.code)
                                statuses.count(code)
                                if response.status == .ok, let tokens = try? decodeTokens(response) {
                                    token = tokens.refreshToken
                                    received.record(index, token)
                                } else {
                                    try? await Task.sleep(for: .milliseconds(50))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func signIn(chains: Int, port: Int) async throws -> [String] {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            var starts: [String] = []
            for index in 0..<chains {
                let response = try await client.execute(.init(
                    "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody("device-chain-\(index)")))
                starts.append(try decodeTokens(response).refreshToken)
            }
            return starts
        }
    }

    static func expectEveryChainWorks(_ last: [Int: (token: String, count: Int)], chains: Int, port: Int) async throws {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            for index in 0..<chains {
                let token = try #require(last[index]?.token)
                let response = try await client.execute(refreshRequest(token))
                #expect(response.status == .ok, "chain \(index) lost its session: \(String(buffer: response.body ?? ByteBuffer()))")
            }
        }
    }

    @Test func everyReceivedRefreshTokenSurvivesSIGKILLOfTheReplica() async throws {
        try await Self.withCluster { url in
            let port = try TegataProcess.freePort()
            let environment = Self.environment(url: url, port: port)
            let server = try TegataProcess(environment: environment, port: port)
            try await server.waitUntilServing()
            let chains = 8
            let starts = try await Self.signIn(chains: chains, port: port)
            let received = ChainLog()
            let statuses = StatusCounts()
            let load = Self.load(port: port, starts: starts, received: received, statuses: statuses)
            try await Task.sleep(for: .milliseconds(1_500))
            kill(server.process.pid, SIGKILL)
            _ = try await server.waitForExit()
            load.cancel()
            await load.value
            let last = received.snapshot
            #expect(last.count == chains && last.values.map(\.count).reduce(0, +) > chains, "under load when killed")
            #expect(statuses.snapshot.keys.allSatisfy { $0 == 200 }, "\(statuses.snapshot)")
            // Another replica (here: the same binary started again) on the same database.
            let replica = try TegataProcess(environment: environment, port: port)
            try await replica.waitUntilServing()
            try await Self.expectEveryChainWorks(last, chains: chains, port: port)
            kill(replica.process.pid, SIGTERM)
            _ = try await replica.waitForExit()
        }
    }
}
