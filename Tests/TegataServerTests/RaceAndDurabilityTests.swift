import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import TegataCore
import TegataServer
import TegataWire
import TegataTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

func refreshRequest(_ token: String) -> TestClient.Request {
    TestClient.Request(
        "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
        body: form(["grant_type": "refresh_token", "refresh_token": token]))
}

func decodeTokens(_ response: TestClient.Response) throws -> TokenResponse {
    try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: response.body ?? ByteBuffer()).utf8))
}

@Suite struct RefreshRaceTests {
    @Test func fiftyConcurrentRefreshesOfOneTokenConvergeAndTheSessionSurvives() async throws {
        // Fifty refreshes of one session at once are over its rate limit: the race, not the limit, is tested here.
        let harness = Harness {
            $0.port = 0
            $0.rateLimits.enabled = false
        }
        try await harness.withApp(.live) { client, _ in
            let port = try #require(client.port)
            let signIn = try await client.signIn()
            let answers = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port) { connection in
                            let response = try await connection.execute(refreshRequest(signIn.refreshToken))
                            let token = response.status == .ok ? try decodeTokens(response).refreshToken : nil
                            return (response.status.code, token)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 50)
            #expect(answers.allSatisfy { $0.0 < 500 }, "no 5xx: \(answers.map(\.0))")
            #expect(answers.allSatisfy { $0.0 == 200 }, "within the grace interval every racer succeeds: \(answers.map(\.0))")
            let tokens = Set(answers.compactMap(\.1))
            #expect(tokens.count == 1, "every success carries the same current refresh token")
            let current = try #require(tokens.first)

            // The session survived: its current token rotates normally.
            let next = try await client.refreshed(current)
            #expect(try await client.me(next.accessToken).status == .ok)

            // A replay of the original after the grace interval kills the session.
            harness.clock.advance(by: 11)
            #expect(try await client.refresh(signIn.refreshToken).status == .badRequest)
            #expect(try await client.refresh(next.refreshToken).status == .badRequest)
            #expect(try await client.me(next.accessToken).status == .unauthorized)
        }
    }
}

/// The last refresh token each chain received, and how many it received.
final class ChainLog: Sendable {
    private let state = Mutex<[Int: (token: String, count: Int)]>([:])

    func record(_ chain: Int, _ token: String) {
        state.withLock { $0[chain] = (token, ($0[chain]?.count ?? 0) + 1) }
    }

    var snapshot: [Int: (token: String, count: Int)] { state.withLock { $0 } }

    /// The last token chain `chain` received, if any.
    func last(_ chain: Int) -> String? { state.withLock { $0[chain]?.token } }
}

@Suite(.serialized) struct DurabilityTests {
    /// Chains of refreshes run against the real server; it is killed with SIGKILL in the middle, then
    /// restarted on the same data. Every chain's last received refresh token must still work (for a
    /// request in flight at the kill, the server may have committed one more rotation: then the
    /// received token is the preceding one, and the grace rule answers it).
    @Test func everyReceivedRefreshTokenSurvivesSIGKILL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-kill-\(UUID().uuidString)").path
        let port = try TegataProcess.freePort()
        let environment = ["TEGATA_PORT": String(port), "TEGATA_DATABASE_URL": "sqlite://\(directory)/tegata.sqlite",
                           "TEGATA_LOG_LEVEL": "warning", "TEGATA_RATE_LIMIT_ENABLED": "false"]
        let server = try TegataProcess(environment: environment, port: port)
        try await server.waitUntilServing()

        let chains = 8
        let starts = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            var starts: [String] = []
            for index in 0..<chains {
                let response = try await client.execute(.init(
                    "/v1/auth/device", method: .post, headers: [.contentType: "application/json"],
                    body: deviceBody("device-chain-\(index)")))
                starts.append(try decodeTokens(response).refreshToken)
            }
            return starts
        }
        let received = ChainLog()
        let firstStarts = starts
        let load = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<chains {
                    group.addTask {
                        try? await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                            var token = firstStarts[index]
                            while !Task.isCancelled {
                                guard let response = try? await client.execute(refreshRequest(token)) else { return }
                                guard response.status == .ok, let tokens = try? decodeTokens(response) else {
                                    Issue.record("chain \(index): refresh failed with \(response.status.code) before the kill")
                                    return
                                }
                                token = tokens.refreshToken
                                received.record(index, token)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Killed once every chain has refreshed at least twice (a loaded machine may need longer
        // than a fixed wait), at most 20 s in.
        try await Task.sleep(for: .milliseconds(1_500))
        for _ in 0..<185 where received.snapshot.count < chains || received.snapshot.values.contains(where: { $0.count < 2 }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(server.process.pid, SIGKILL)
        _ = try await server.waitForExit()
        load.cancel()
        _ = try? await load.value

        let last = received.snapshot
        #expect(last.count == chains, "every chain made progress")
        #expect(last.values.map(\.count).reduce(0, +) > chains, "the server was under load when killed")

        let restarted = try TegataProcess(environment: environment, port: port)
        try await restarted.waitUntilServing()
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            for index in 0..<chains {
                let token = try #require(last[index]?.token)
                let response = try await client.execute(refreshRequest(token))
                #expect(response.status == .ok, "chain \(index) lost its session: \(String(buffer: response.body ?? ByteBuffer()))")
            }
        }
        kill(restarted.process.pid, SIGTERM)
        _ = try await restarted.waitForExit()
    }
}
