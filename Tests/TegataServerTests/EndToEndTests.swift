import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import TegataServer
import TegataStoreSQLite
import TegataTestSupport
import TegataWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `tegata` executable (built next to this test bundle) and talks to it over a socket.
final class TegataProcess: Sendable {
    let process: ChildProcess
    let port: Int

    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tegata")
    }

    init(arguments: [String] = ["serve"], environment: [String: String], port: Int) throws {
        self.port = port
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TEGATA_") }
        env.merge(environment) { $1 }
        process = try ChildProcess(executable: Self.executable, arguments: arguments, environment: env)
    }

    var log: String { process.output }

    /// Waits until the server answers `/healthz`.
    func waitUntilServing(timeout: TimeInterval = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { throw Failure("tegata exited early: \(log)") }
            if (try? await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                try await client.execute(.init("/healthz", method: .get)).status == .ok
            }) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure("tegata did not start: \(log)")
    }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: TimeInterval = 30) async throws -> Int32 {
        do {
            return try await process.waitForExit(timeout: timeout)
        } catch {
            throw Failure("tegata did not exit")
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// A port that was free a moment ago.
    static func freePort() throws -> Int { try LiveTegata.freePort() }
}

@Suite(.serialized) struct EndToEndTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-e2e-\(UUID().uuidString)").path

    func environment(port: Int) -> [String: String] {
        ["TEGATA_PORT": String(port), "TEGATA_DATABASE_URL": "sqlite://\(directory)/tegata.sqlite", "TEGATA_LOG_FORMAT": "json"]
    }

    func post(_ client: TestClient, _ path: String, _ body: ByteBuffer) async throws -> TestClient.Response {
        try await client.execute(.init(path, method: .post, headers: [.contentType: "application/json"], body: body))
    }

    @Test func theRealServerSignsInServesMeAndShutsDownGracefully() async throws {
        let port = try TegataProcess.freePort()
        let server = try TegataProcess(environment: environment(port: port), port: port)
        try await server.waitUntilServing()

        let (tokens, jwks, discovery) = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            let registered = try await self.post(client, "/v1/auth/device", deviceBody())
            #expect(registered.status == .created)
            let tokens = try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: registered.body!).utf8))
            let me = try await client.execute(.init("/v1/me", method: .get, headers: [.authorization: "Bearer \(tokens.accessToken)"]))
            #expect(me.status == .ok)
            #expect(String(buffer: me.body!).contains(tokens.user.id))
            let jwks = try await client.execute(.init("/.well-known/jwks.json", method: .get))
            let discovery = try await client.execute(.init("/.well-known/openid-configuration", method: .get))
            return (tokens, Data(String(buffer: jwks.body!).utf8), Data(String(buffer: discovery.body!).utf8))
        }
        let claims = try independentlyVerify(tokens.accessToken, jwksJSON: jwks)
        #expect(claims["iss"] as? String == "http://127.0.0.1:\(port)", "the issuer defaults to the server's own URL")
        let metadata = try #require(try JSONSerialization.jsonObject(with: discovery) as? [String: Any])
        #expect(metadata["issuer"] as? String == "http://127.0.0.1:\(port)")

        kill(server.process.pid, SIGTERM)
        #expect(try await server.waitForExit() == 0, "graceful shutdown on SIGTERM")

        // Logs are JSON lines and carry no secret or token.
        let lines = server.log.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count >= 3)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
            #expect(!line.contains(validSecret) && !line.contains(tokens.refreshToken) && !line.contains(tokens.accessToken.prefix(40)))
        }
        #expect(server.log.contains("generated a development master key"))

        // Restart on the same data: same keys, same device, old access token still valid.
        let again = try TegataProcess(environment: environment(port: port), port: port)
        try await again.waitUntilServing()
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            #expect(try await self.post(client, "/v1/auth/device", deviceBody()).status == .ok)
            let me = try await client.execute(.init("/v1/me", method: .get, headers: [.authorization: "Bearer \(tokens.accessToken)"]))
            #expect(me.status == .ok)
        }
        kill(again.process.pid, SIGINT)
        #expect(try await again.waitForExit() == 0, "graceful shutdown on SIGINT")
    }

    @Test func theRealServerExchangesAProviderTokenFromItsEnvironmentConfiguration() async throws {
        let key = ProviderSigningKey.ec(ProviderKeys.ec1, kid: "line-e2e")
        try await FakeProvider.with(keys: [key]) { provider in
            let port = try TegataProcess.freePort()
            var env = environment(port: port)
            env["TEGATA_PROVIDERS"] = #"{"line": {"audiences": ["1234567890"], "jwks_url": "\#(provider.jwksURL)"}}"#
            let server = try TegataProcess(environment: env, port: port)
            try await server.waitUntilServing()
            let idToken = key.sign(ProviderClaims.line(now: Date()))
            let tokens = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let response = try await client.execute(.init(
                    "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: form(["grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": idToken,
                                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "provider": "line"])))
                #expect(response.status == .ok, "\(String(buffer: response.body ?? ByteBuffer()))")
                return try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: response.body!).utf8))
            }
            #expect(tokens.user.anon == false)
            #expect(provider.jwksFetches >= 1)
            kill(server.process.pid, SIGTERM)
            #expect(try await server.waitForExit() == 0, "graceful shutdown, the HTTP client included")
            #expect(!server.log.contains(idToken.prefix(60)), "the ID token is never logged")
        }
    }

    @Test func aBadConfigurationStopsStartUpNamingTheKey() async throws {
        var env = environment(port: 1)
        env["TEGATA_ACCESS_TOKEN_TTL"] = "forever"
        let server = try TegataProcess(environment: env, port: 1)
        #expect(try await server.waitForExit() == 78)
        #expect(server.log.contains("TEGATA_ACCESS_TOKEN_TTL"))
    }

    @Test func migrateCreatesTheSchemaAndExits() async throws {
        let server = try TegataProcess(arguments: ["migrate"], environment: environment(port: 1), port: 1)
        #expect(try await server.waitForExit() == 0)
        #expect(server.log.contains("schema version \(SQLiteStore.newestSchemaVersion)"))
        #expect(FileManager.default.fileExists(atPath: "\(directory)/tegata.sqlite"))
    }

    @Test func theRealServerLimitsRegistrationsAndServesMetricsOnItsOwnPort() async throws {
        let port = try TegataProcess.freePort()
        let metricsPort = try TegataProcess.freePort()
        var environment = environment(port: port)
        // Two new devices per address per 2 s: one more every second.
        environment["TEGATA_RATE_LIMIT_REGISTRATIONS"] = "2/2s"
        environment["TEGATA_METRICS_PORT"] = String(metricsPort)
        let server = try TegataProcess(environment: environment, port: port)
        try await server.waitUntilServing()
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-1")).status == .created)
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-2")).status == .created)
            let refused = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-3"))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.headers[HTTPField.Name("RateLimit-Policy")!] == #""registrations";q=2;w=2"#)
            #expect(refused.headers[HTTPField.Name("RateLimit")!] == #""registrations";r=0;t=1"#)
            #expect(String(buffer: refused.body!).contains(#""error":"rate_limited""#))
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-1")).status == .ok, "a known device signs in")
            #expect(try await client.execute(.init("/metrics", method: .get)).status == .notFound, "no metrics on the public port")
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-3")).status == .created, "recovered")
        }
        let metrics = try await TestClient.withClient(host: "127.0.0.1", port: metricsPort) { client in
            String(buffer: try await client.execute(.init("/metrics", method: .get)).body!)
        }
        let samples = Sample.parse(metrics)
        #expect(samples.value("tegata_rate_limit_rejections_total", ["policy": "registrations"]) == 1)
        #expect(samples.value("tegata_sign_ins_total", ["method": "device", "result": "registered"]) == 3)
        #expect(!metrics.contains("device-e2e"))
        kill(server.process.pid, SIGTERM)
        #expect(try await server.waitForExit() == 0, "both listeners shut down on SIGTERM")
    }

    @Test func theRealServerWritesTheAuditStreamAndTableAndTheCLIReadsIt() async throws {
        let port = try TegataProcess.freePort()
        var environment = environment(port: port)
        environment["TEGATA_AUDIT_TABLE"] = "true"
        environment["TEGATA_RATE_LIMIT_REGISTRATIONS"] = "1/1h"
        let server = try TegataProcess(environment: environment, port: port)
        try await server.waitUntilServing()
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client async throws -> Void in
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-audit-1")).status == .created)
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-audit-2")).status == .tooManyRequests)
        }
        kill(server.process.pid, SIGTERM)
        #expect(try await server.waitForExit() == 0)
        // The stream: JSON lines on standard error beside the request log, marked for the audit audience.
        let streamed = server.log.split(separator: "\n").filter { $0.hasPrefix(#"{"audience":"audit","#) }
        #expect(streamed.count == 2, "\(server.log)")
        #expect(streamed.first?.contains(#""type":"sign_in""#) == true && streamed.first?.contains(#""client_address":"127.0.0.1""#) == true)
        #expect(streamed.last?.contains(#""policy":"registrations""#) == true)

        // The table, read back by `tegata audit` (the server wrote it before it stopped).
        let all = try TegataProcess(arguments: ["audit"], environment: environment, port: 1)
        #expect(try await all.waitForExit() == 0)
        let lines = all.log.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 2, "\(all.log)")
        #expect(lines.first?.contains(#""type":"rate_limited""#) == true, "newest first")
        let signIns = try TegataProcess(arguments: ["audit", "--type", "sign_in", "--limit", "5"], environment: environment, port: 1)
        #expect(try await signIns.waitForExit() == 0)
        #expect(signIns.log.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1)
        #expect(!all.log.contains("device-e2e-audit") && !server.log.contains("device-e2e-audit"), "no device id anywhere")
        let bad = try TegataProcess(arguments: ["audit", "--type", "everything"], environment: environment, port: 1)
        #expect(try await bad.waitForExit() != 0)
        #expect(bad.log.contains("--type must be one of"))
    }

    @Test func theOperatorCLIWorksOnTheDatabaseOfARunningServer() async throws {
        let port = try TegataProcess.freePort()
        var configured = environment(port: port)
        configured["TEGATA_AUDIT_LOG"] = "off"
        let environment = configured
        let server = try TegataProcess(environment: environment, port: port)
        try await server.waitUntilServing()
        @Sendable func cli(_ arguments: [String], expect status: Int32, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
            let run = try TegataProcess(arguments: arguments, environment: environment, port: 1)
            let code = try await run.waitForExit()
            #expect(code == status, "\(arguments): \(run.log)", sourceLocation: sourceLocation)
            return run.log
        }
        @Sendable func lastLine(_ log: String) -> Data { Data((log.split(separator: "\n").last(where: { $0.hasPrefix("{") }) ?? "").utf8) }
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client async throws -> Void in
            let created = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-cli-1"))
            let user = try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: created.body!).utf8)).user.id

            let shown = try WireCoding.makeDecoder().decode(AdminUserResponse.self, from: lastLine(try await cli(["users", "get", user, "--json"], expect: 0)))
            #expect(shown.id == user && shown.devices.map(\.id) == ["device-e2e-cli-1"])
            #expect(try await cli(["users", "get", user], expect: 0).contains("device-e2e-cli-1 ios"))
            #expect(try await cli(["users", "find", "--device-id", "device-e2e-cli-1"], expect: 0).contains(user))
            let exported = try WireCoding.makeDecoder().decode(AdminUserExport.self, from: lastLine(try await cli(["users", "export", user], expect: 0)))
            #expect(exported.user.id == user && exported.sessions.count == 1 && exported.auditEvents == nil)

            // Disabled from the command line: the running server refuses the sign-in at once.
            _ = try await cli(["users", "disable", user], expect: 0)
            let refused = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-cli-1"))
            #expect(refused.status == .forbidden && String(buffer: refused.body ?? ByteBuffer()).contains("this account is disabled"))
            _ = try await cli(["users", "enable", user], expect: 0)
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-cli-1")).status == .ok)
            _ = try await cli(["users", "set-claims", user, #"{"roles":["admin"]}"#], expect: 0)
            let again = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-cli-1"))
            let token = try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: again.body!).utf8)).accessToken
            #expect(claim("roles", of: token) as? [String] == ["admin"])
            let sessions = try WireCoding.makeDecoder().decode(
                AdminSessionsResponse.self, from: lastLine(try await cli(["sessions", "list", user, "--json"], expect: 0)))
            #expect(sessions.sessions.count == 3)
            _ = try await cli(["sessions", "revoke", sid(of: token)], expect: 0)
            #expect(try await cli(["keys", "list"], expect: 0).contains("signing"))
            let rotation = try WireCoding.makeDecoder().decode(
                KeyRotationResponse.self, from: lastLine(try await cli(["keys", "rotate", "--json"], expect: 0)))
            #expect(try await cli(["keys", "list"], expect: 0).contains("\(rotation.kid)  next"))
            let live = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-cli-2"))
            let other = try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: live.body!).utf8))
            let liveToken = other.accessToken
            _ = try await cli(["users", "revoke", other.user.id], expect: 0)
            let revoked = try await client.execute(.init("/v1/me", method: .get, headers: [.authorization: "Bearer \(liveToken)"]))
            #expect(revoked.status == .unauthorized, "revoked from the command line, refused by the running server")

            // Exit codes scripts rely on.
            _ = try await cli(["users", "get", "no-such-user"], expect: 67)
            _ = try await cli(["users", "get", "a b"], expect: 64)
            #expect(try await cli(["users", "set-claims", user, #"{"sub":"x"}"#], expect: 64).contains("the claim sub is reserved"))
            _ = try await cli(["users", "disable", user, "--until", "tomorrow"], expect: 64)
            _ = try await cli(["users", "delete", user], expect: 0)
            _ = try await cli(["users", "delete", user], expect: 67)
            var broken = environment
            broken["TEGATA_ACCESS_TOKEN_TTL"] = "forever"
            let misconfigured = try TegataProcess(arguments: ["users", "find"], environment: broken, port: 1)
            #expect(try await misconfigured.waitForExit() == 78)
        }
        kill(server.process.pid, SIGTERM)
        #expect(try await server.waitForExit() == 0)
        #expect(!server.log.contains(validSecret))
    }

    @Test func theRealCLIImportsAFileAndResumesAtALineAndTheRealServerLetsAnImportedDeviceBeClaimedOnceWhileOpen() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-import-\(UUID().uuidString).jsonl").path
        let lines = [
            #"{"id": "legacy-e2e-1", "created_at": "2024-05-01T09:00:00Z", "devices": [{"id": "legacy-e2e-device-1", "platform": "ios"}], "entitlements": [{"name": "pro", "expires_at": null}]}"#,
            "",
            #"{"id": "bad id", "devices": []}"#,
            #"{"id": "legacy-e2e-2", "devices": [{"id": "legacy-e2e-device-2", "platform": "android"}]}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let open = Date().addingTimeInterval(86_400).formatted(Date.ISO8601FormatStyle())
        @Sendable func cli(_ arguments: [String], _ environment: [String: String], expect status: Int32, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
            let run = try TegataProcess(arguments: arguments, environment: environment, port: 1)
            let code = try await run.waitForExit()
            #expect(code == status, "\(arguments): \(run.log)", sourceLocation: sourceLocation)
            return run.log
        }
        @Sendable func claimBody(_ device: String, _ user: String, secret: String = validSecret) -> ByteBuffer {
            json(["device_id": device, "device_secret": secret, "platform": "ios", "user_id": user])
        }

        let port = try TegataProcess.freePort()
        var configured = environment(port: port)
        configured["TEGATA_AUDIT_LOG"] = "off"
        configured["TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL"] = open
        let withClaims = configured
        let server = try TegataProcess(environment: withClaims, port: port)
        try await server.waitUntilServing()
        // The whole file, two users a transaction: the bad line is named by its number, the rest imported.
        let first = try await cli(["users", "import", file, "--batch", "2"], withClaims, expect: 65)
        #expect(first.contains("line 3: invalid: id must be"), "\(first)")
        #expect(first.contains("created 2, updated 0, unchanged 0, conflict 0, invalid 1"), "\(first)")
        // Resumed at line 4: only the last user, already there.
        let resumed = try await cli(["users", "import", file, "--from-line", "4"], withClaims, expect: 0)
        #expect(resumed.contains("created 0, updated 0, unchanged 1, conflict 0, invalid 0"), "\(resumed)")
        _ = try await cli(["users", "import", file + ".missing"], withClaims, expect: 66)

        try await TestClient.withClient(host: "127.0.0.1", port: port) { client async throws -> Void in
            // Imported devices sign in nowhere until claimed.
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("legacy-e2e-device-1")).status == .unauthorized)
            let claimed = try await self.post(client, "/v1/auth/device/claim", claimBody("legacy-e2e-device-1", "legacy-e2e-1"))
            #expect(claimed.status == .ok)
            let tokens = try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: claimed.body!).utf8))
            #expect(tokens.user.id == "legacy-e2e-1")
            #expect((claim("ent", of: tokens.accessToken) as? [String: Any])?["pro"] as? Bool == true)
            let second = try await self.post(
                client, "/v1/auth/device/claim", claimBody("legacy-e2e-device-1", "legacy-e2e-1", secret: "another-secret-0123456789abcdef0123456789"))
            #expect(second.status == .unauthorized, "a second claim of the device, with another secret, is refused")
            #expect(try await self.post(client, "/v1/auth/device", deviceBody("legacy-e2e-device-1")).status == .ok)
        }
        kill(server.process.pid, SIGTERM)
        #expect(try await server.waitForExit() == 0)

        // The same database served without the window: claims are refused.
        let closedPort = try TegataProcess.freePort()
        var closed = environment(port: closedPort)
        closed["TEGATA_AUDIT_LOG"] = "off"
        let closedServer = try TegataProcess(environment: closed, port: closedPort)
        try await closedServer.waitUntilServing()
        try await TestClient.withClient(host: "127.0.0.1", port: closedPort) { client async throws -> Void in
            let refused = try await self.post(client, "/v1/auth/device/claim", claimBody("legacy-e2e-device-2", "legacy-e2e-2"))
            #expect(refused.status == .forbidden && String(buffer: refused.body ?? ByteBuffer()).contains("not open"))
        }
        kill(closedServer.process.pid, SIGTERM)
        #expect(try await closedServer.waitForExit() == 0)
        #expect(!server.log.contains(validSecret) && !server.log.contains("legacy-e2e-device-1"))
    }

    @Test func theRealServersAdminRoutesAnswerOverASocketAndRefuseAMissingOrWrongKey() async throws {
        let port = try TegataProcess.freePort()
        let key = AdminUsersTests.adminKey
        var configured = environment(port: port)
        configured["TEGATA_ADMIN_API_KEY"] = key
        configured["TEGATA_AUDIT_LOG"] = "off"
        let server = try TegataProcess(environment: configured, port: port)
        try await server.waitUntilServing()
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client async throws -> Void in
            @Sendable func admin(_ method: HTTPRequest.Method, _ path: String, body: String? = nil, key: String? = key) async throws -> TestClient.Response {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let key { headers[.authorization] = "Bearer \(key)" }
                return try await client.execute(.init(path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
            }
            let created = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-admin-1"))
            let tokens = try WireCoding.makeDecoder().decode(TokenResponse.self, from: Data(String(buffer: created.body!).utf8))
            let user = tokens.user.id
            let routes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/admin/v1/users?device_id=device-e2e-admin-1", nil), (.get, "/admin/v1/users/\(user)", nil),
                (.get, "/admin/v1/users/\(user)/sessions", nil), (.get, "/admin/v1/users/\(user)/export", nil), (.put, "/admin/v1/users/\(user)/claims", #"{"roles":["admin"]}"#),
                (.post, "/admin/v1/users/\(user)/disable", nil), (.post, "/admin/v1/users/\(user)/enable", nil),
                (.post, "/admin/v1/users/\(user)/revoke", nil), (.delete, "/admin/v1/sessions/\(sid(of: tokens.accessToken))", nil),
                (.post, "/admin/v1/keys/rotate", nil), (.delete, "/admin/v1/users/\(user)", nil),
                (.post, "/admin/v1/users/import", #"{"users": [{"id": "legacy-e2e-admin", "devices": [{"id": "legacy-e2e-admin-device", "platform": "ios"}]}]}"#),
            ]
            for (method, path, body) in routes {
                for wrong in [nil, key + "x", tokens.accessToken] as [String?] {
                    let refused = try await admin(method, path, body: body, key: wrong)
                    #expect(refused.status == .unauthorized && String(buffer: refused.body ?? ByteBuffer()).contains("invalid_token"), "\(method) \(path)")
                }
            }
            for (method, path, body) in routes {
                let response = try await admin(method, path, body: body)
                #expect((200..<300).contains(response.status.code), "\(method) \(path): \(response.status) \(String(buffer: response.body ?? ByteBuffer()))")
                if path.hasSuffix("/disable") {
                    let refused = try await self.post(client, "/v1/auth/device", deviceBody("device-e2e-admin-1"))
                    #expect(refused.status == .forbidden, "a disabled user signs in nowhere")
                }
            }
            #expect(try await admin(.get, "/admin/v1/users/\(user)").status == .notFound, "deleted")
            let imported = try await admin(.get, "/admin/v1/users?device_id=legacy-e2e-admin-device")
            #expect(String(buffer: imported.body ?? ByteBuffer()).contains("legacy-e2e-admin"), "imported over the socket")
            let again = try await admin(.post, "/admin/v1/users/import", body: #"{"users": [{"id": "legacy-e2e-admin", "devices": [{"id": "legacy-e2e-admin-device", "platform": "ios"}]}]}"#)
            #expect(String(buffer: again.body ?? ByteBuffer()).contains(#""unchanged":1"#), "idempotent")
        }
        kill(server.process.pid, SIGTERM)
        #expect(try await server.waitForExit() == 0)
        #expect(!server.log.contains(key), "the admin key is never logged")
    }
}
