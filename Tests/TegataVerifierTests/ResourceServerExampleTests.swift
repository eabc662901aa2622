import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TegataServer
import TegataTestSupport
import TegataTokens
import TegataWire
import Testing

/// `Examples/ResourceServer` as its own process against a real Tegata. Everything the example asks
/// Tegata goes through a counting proxy (Tegata's issuer is the proxy's URL), so the test sees
/// every call.
@Suite(.serialized) struct ResourceServerExampleTests {
    static let adminKey = "admin-key-0123456789abcdef0123456789abcdef"

    /// The example process on a port it picks itself (no race with other tests for a "free" port),
    /// with its output in a file: the test reads the port from it, and shows it when a test fails.
    final class Example: Sendable {
        let process: ChildProcess
        let port = Mutex(0)

        init(environment: [String: String]) throws {
            let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("resource-server-example")
            process = try ChildProcess(
                executable: binary, environment: environment.merging(["PORT": "0", "LOG_LEVEL": "notice"]) { $1 })
        }

        var output: String { process.output }

        func stop() async {
            await process.stop()
        }

        /// `GET <path>` on the example: status and body.
        func get(_ path: String, headers: [String: String]) async throws -> (Int, String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port.withLock { $0 })\(path)")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1024 * 1024)
            return (Int(response.status.code), String(buffer: body))
        }

        func profile(token: String) async throws -> (Int, String) {
            try await get("/v1/profile", headers: ["Authorization": "Bearer \(token)"])
        }

        func waitUntilServing() async throws {
            let bound = try await eventually(60) {
                guard let line = self.output.split(separator: "\n").first(where: { $0.contains("resource server listening") }),
                      let port = line.split(separator: "port=").last.flatMap({ Int($0.prefix { $0.isNumber }) })
                else { return false }
                self.port.withLock { $0 = port }
                return true
            }
            #expect(bound, "the example did not start: \(output)")
            let up = try await eventually(10) { (try? await self.get("/health", headers: [:]).0) == 200 }
            #expect(up, "the example did not start: \(output)")
            // Ready (the revocation list loaded): before that, fail-closed means 503 for every token.
            let ready = try await eventually(20) { (try? await self.get("/ready", headers: [:]).0) == 200 }
            #expect(ready, "the example never became ready: \(output)")
        }
    }

    /// Tegata behind a counting proxy, and the example pointed at the proxy.
    static func withExample(
        environment: [String: String] = [:], _ body: @Sendable (LiveTegata, CountingProxy, Example) async throws -> Void
    ) async throws {
        let proxyPort = try LiveTegata.freePort()
        let tegataPort = try LiveTegata.freePort()
        let issuer = "http://127.0.0.1:\(proxyPort)"
        try await CountingProxy.with(port: proxyPort, target: "http://127.0.0.1:\(tegataPort)") { proxy in
            try await LiveTegata.with(port: tegataPort, {
                $0.issuer = issuer
                $0.audience = issuer
                $0.introspectionClients = [VerifierTests.feedClient]
                $0.adminAPIKey = Self.adminKey
                $0.jwksMaxAge = 2
            }) { server in
                let example = try Example(environment: [
                    "TEGATA_ISSUER": issuer, "TEGATA_RESOURCE_CLIENT_ID": VerifierTests.feedClient.id,
                    "TEGATA_RESOURCE_CLIENT_SECRET": VerifierTests.feedClient.secret, "TEGATA_KEYS_MINIMUM_LIFETIME": "1",
                ].merging(environment) { $1 })
                do {
                    try await example.waitUntilServing()
                    try await body(server, proxy, example)
                } catch {
                    await example.stop()
                    throw error
                }
                await example.stop()
            }
        }
    }

    static func kid(of token: String) -> String? {
        Base64URL.decode(String(token.split(separator: ".")[0]))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }?["kid"] as? String
    }

    @Test func aTokenWorksAndALoggedOutSessionIsRefusedWithinTwoSecondsWithNoCallPerRequest() async throws {
        try await Self.withExample { server, proxy, example in
            let (token, user) = try await VerifierTests.signIn(server, device: "device-alice")
            let (other, _) = try await VerifierTests.signIn(server, device: "device-bob01")
            let (status, body) = try await example.profile(token: token)
            #expect(status == 200, "\(body)")
            #expect(body.contains(#""user_id":"\#(user)""#) && body.contains(#""authenticated_by":"token""#))
            #expect(try await eventually { proxy.requests["/v1/revocations", default: 0] > 0 }, "the example follows the feed")

            // 200 requests: Tegata sees only the example's background work (feed polls, key refreshes).
            proxy.reset()
            for _ in 0..<200 {
                #expect(try await example.profile(token: token).0 == 200)
            }
            let calls = proxy.requests
            let background: Set<String> = ["/v1/revocations", "/.well-known/jwks.json", "/.well-known/openid-configuration"]
            #expect(calls.keys.allSatisfy(background.contains), "\(calls)")
            #expect(calls.values.reduce(0, +) < 20, "not one call per request: \(calls)")

            // Logout in Tegata: refused within 2 s; the other session is untouched.
            let (logout, _) = try await server.raw("POST", "/v1/logout", token: token)
            #expect(logout == 204)
            let start = ContinuousClock.now
            #expect(try await eventually(5) { try await example.profile(token: token).0 == 401 })
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(2), "refused after \(elapsed)")
            #expect(try await example.profile(token: other).0 == 200)
            #expect(!example.output.contains(token), "tokens are never logged")
        }
    }

    @Test func keyRotationInTegataNeedsNoRestartOfTheExample() async throws {
        try await Self.withExample { server, proxy, example in
            let (first, _) = try await VerifierTests.signIn(server, device: "device-alice")
            #expect(try await example.profile(token: first).0 == 200)

            // Planned rotation: the new key is published 2 s (the JWKS max-age) before it signs. The
            // example's key refetch for unknown kids is rate-limited to once a minute (the default),
            // so accepting the new key's tokens shows it learnt the key ahead, from its cache refresh.
            proxy.reset()
            let (rotated, rotation) = try await server.raw("POST", "/admin/v1/keys/rotate", token: Self.adminKey, json: [:])
            #expect(rotated == 200)
            let planned = try #require(rotation["kid"] as? String)
            #expect(try await eventually { proxy.requests["/.well-known/jwks.json", default: 0] > 0 }, "the example refreshed its keys")
            var second = ""
            for _ in 0..<100 {
                second = try await VerifierTests.signIn(server, device: "device-alice").token
                if Self.kid(of: second) == planned { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(Self.kid(of: second) == planned, "the new key signs once its time has come")
            let (status, body) = try await example.profile(token: second)
            #expect(status == 200, "\(body)")
            #expect(try await example.profile(token: first).0 == 200, "the old key's tokens still work")

            // Immediate rotation: the example meets an unknown kid and picks the key up on its own.
            let (_, immediate) = try await server.raw("POST", "/admin/v1/keys/rotate", token: Self.adminKey, json: ["immediate": true])
            let (third, _) = try await VerifierTests.signIn(server, device: "device-alice")
            #expect(Self.kid(of: third) == immediate["kid"] as? String)
            #expect(try await eventually(15) { try await example.profile(token: third).0 == 200 }, "\(example.output)")
            #expect(example.process.isRunning, "no restart")
        }
    }

    @Test func legacyHeadersAreAcceptedOnlyForARegisteredDeviceAndTheAnswerIsCached() async throws {
        try await Self.withExample(environment: ["LEGACY_DEVICE_HEADERS": "on"]) { server, proxy, example in
            let (_, user) = try await VerifierTests.signIn(server, device: "device-alice")
            let (_, bob) = try await VerifierTests.signIn(server, device: "device-bob01")
            proxy.reset()
            for _ in 0..<10 {
                let (status, body) = try await example.get("/v1/profile", headers: ["device-id": "device-alice", "user-id": user])
                #expect(status == 200, "\(body)")
                #expect(body.contains(#""authenticated_by":"legacy-headers""#) && body.contains(user))
            }
            #expect(proxy.requests["/v1/devices/check"] == 1, "asked once, then cached: \(proxy.requests)")
            #expect(try await example.get("/v1/profile", headers: ["device-id": "device-alice", "user-id": bob]).0 == 401)
            #expect(try await example.get("/v1/profile", headers: ["device-id": "device-alice"]).0 == 401)
            #expect(!example.output.contains("device-alice"), "device ids are never logged")
        }
    }
}
