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
    static func withCluster<T: Sendable>(
        _ body: (_ url: String, _ control: @escaping @Sendable (String) async throws -> String) async throws -> T
    ) async throws -> T {
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
            let result = try await body(url, control)
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
         "TEGATA_REFRESH_REUSE_GRACE": "300s",
         // Chains of refreshes as fast as the server answers, far beyond the per-session limit.
         "TEGATA_RATE_LIMIT_ENABLED": "false"]
    }

    /// Chains of refreshes; statuses other than 200 are counted by code (0: no answer within the
    /// client's timeout, or the connection failed), and a chain backs off briefly after anything but
    /// a 200. Returns when cancelled.
    static func load(port: Int, starts: [String], received: ChainLog, statuses: StatusCounts) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, start) in starts.enumerated() {
                    group.addTask {
                        while !Task.isCancelled {
                            // A new connection after a failed one.
                            try? await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(20))) { client in
                                while !Task.isCancelled {
                                    let token = received.last(index) ?? start
                                    let response: TestClient.Response
                                    do {
                                        response = try await client.execute(refreshRequest(token))
                                    } catch {
                                        if !Task.isCancelled { statuses.count(0) }
                                        throw error
                                    }
                                    statuses.count(Int(response.status.code))
                                    if response.status == .ok, let tokens = try? decodeTokens(response) {
                                        received.record(index, tokens.refreshToken)
                                    } else {
                                        try? await Task.sleep(for: .milliseconds(50))
                                    }
                                }
                            }
                            try? await Task.sleep(for: .milliseconds(50))
                        }
                    }
                }
            }
        }
    }

    /// Stops the load and waits for its requests in flight, at most 30 s: a request the server
    /// never answers cannot be cancelled at the client, so then the server is killed (its
    /// connections close) and the answer is false.
    static func stop(_ load: Task<Void, Never>, orKill server: TegataProcess) async -> Bool {
        load.cancel()
        let answered = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await load.value; return true }
            group.addTask { try? await Task.sleep(for: .seconds(30)); return false }
            let first = await group.next() ?? false
            group.cancelAll()
            if !first { kill(server.process.pid, SIGKILL) }
            await group.waitForAll()
            return first
        }
        return answered
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
        try await Self.withCluster { url, _ in
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
            // Before the kill every answer was a 200; the requests in flight at it got none (0).
            #expect(statuses.snapshot.keys.allSatisfy { $0 == 200 || $0 == 0 }, "\(statuses.snapshot)")
            // Another replica (here: the same binary started again) on the same database.
            let replica = try TegataProcess(environment: environment, port: port)
            try await replica.waitUntilServing()
            try await Self.expectEveryChainWorks(last, chains: chains, port: port)
            kill(replica.process.pid, SIGTERM)
            _ = try await replica.waitForExit()
        }
    }

    /// PostgreSQL stopped as a crash would (`pg_ctl stop -m immediate`) under a load of refresh
    /// chains, then started again: while it is away Tegata answers 503 with `Retry-After` (never a
    /// 500, never a refusal of the client's token) and is not ready; once it is back, every chain
    /// carries on by itself, no request is left unanswered, and every refresh token received in a
    /// 200 still works.
    @Test func everyReceivedRefreshTokenSurvivesADatabaseCrash() async throws {
        try await Self.withCluster { url, control in
            let port = try TegataProcess.freePort()
            let server = try TegataProcess(environment: Self.environment(url: url, port: port), port: port)
            try await server.waitUntilServing()
            let chains = 8
            var starts = try await Self.signIn(chains: chains + 1, port: port)
            let probe = starts.removeLast()
            let received = ChainLog()
            let statuses = StatusCounts()
            let load = Self.load(port: port, starts: starts, received: received, statuses: statuses)
            try await Task.sleep(for: .milliseconds(1_500))

            _ = try await control("crash")
            try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(20))) { client in
                let ready = try await client.execute(.init("/readyz", method: .get))
                #expect(ready.status == .serviceUnavailable, "ready while the database is away")
                let refresh = try await client.execute(refreshRequest(probe))
                #expect(refresh.status == .serviceUnavailable, "\(refresh.status): \(String(buffer: refresh.body ?? ByteBuffer()))")
                #expect(refresh.headers[.retryAfter] != nil)
            }
            let atOutage = received.snapshot
            _ = try await control("resume")

            // Recovers by itself: every chain refreshes again, within a bound.
            let deadline = ContinuousClock.now + .seconds(45)
            while ContinuousClock.now < deadline {
                let now = received.snapshot
                if (0..<chains).allSatisfy({ (now[$0]?.count ?? 0) > (atOutage[$0]?.count ?? 0) + 2 }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            guard await Self.stop(load, orKill: server) else {
                Issue.record("requests left unanswered 30 s after the load stopped: \(statuses.snapshot)")
                return
            }
            let last = received.snapshot
            for index in 0..<chains {
                #expect((last[index]?.count ?? 0) > (atOutage[index]?.count ?? 0) + 2, "chain \(index) did not carry on after the database came back")
            }
            let counts = statuses.snapshot
            #expect(counts.keys.allSatisfy { $0 == 200 || $0 == 503 }, "only 200 and 503 (0: unanswered): \(counts)")
            try await Self.expectEveryChainWorks(last, chains: chains, port: port)
            // The probe's session survived its 503.
            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let response = try await client.execute(refreshRequest(probe))
                #expect(response.status == .ok)
            }
            kill(server.process.pid, SIGTERM)
            _ = try await server.waitForExit()
        }
    }
}
