import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MetricsTestKit
import NIOCore
import TegataServer
import TegataTestSupport
import TegataTokens
import TegataVerifier
import TegataVerifierHummingbird
import TegataWire
import Synchronization
import Testing

struct APIContext: TegataAuthRequestContext {
    var coreContext: CoreRequestContextStorage
    var tegataClaims: AccessTokenClaims?
    init(source: Source) {
        coreContext = .init(source: source)
    }
}

struct LegacyAPIContext: TegataLegacyAuthRequestContext {
    var coreContext: CoreRequestContextStorage
    var tegataClaims: AccessTokenClaims?
    var tegataLegacyDevice: LegacyDevice?
    init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// The Hummingbird middleware, in process, in front of a route, against a live Tegata.
@Suite struct MiddlewareTests {
    static func api(_ verifier: TegataVerifier) -> some ApplicationProtocol {
        let router = Router(context: APIContext.self)
        router.get("/health") { _, _ in "ok" }
        router.group("/v1").add(middleware: TegataAuthMiddleware(verifier: verifier, realm: "orders"))
            .get("/whoami") { _, context in try context.requireTegataClaims().sub }
        return Application(router: router)
    }

    @Test func theMiddlewareAnswersAsRFC6750Says() async throws {
        try await VerifierTests.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: VerifierTests.quiet)
            let (token, user) = try await VerifierTests.signIn(server)
            try await Self.api(verifier).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .ok && String(buffer: $0.body) == user)
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "bearer \(token)"]) {
                    #expect($0.status == .ok)
                }
                for headers: HTTPFields in [[:], [.authorization: "Basic abc"], [.authorization: "Bearer "]] {
                    try await client.execute(uri: "/v1/whoami", method: .get, headers: headers) {
                        #expect($0.status == .unauthorized)
                        #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\"")
                        #expect(String(buffer: $0.body).contains("\"error\":\"invalid_token\""))
                    }
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)x"]) {
                    #expect($0.status == .unauthorized)
                    #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\", error=\"invalid_token\"")
                    #expect(!String(buffer: $0.body).contains(token))
                }
                var twice = HTTPFields()
                twice.append(HTTPField(name: .authorization, value: "Bearer \(token)"))
                twice.append(HTTPField(name: .authorization, value: "Bearer \(token)"))
                try await client.execute(uri: "/v1/whoami", method: .get, headers: twice) {
                    #expect($0.status == .badRequest, "RFC 6750 §3.1: more than one method of presenting a token")
                    #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\", error=\"invalid_request\"")
                    #expect(String(buffer: $0.body) == #"{"error":"invalid_request","error_description":"more than one Authorization header"}"#)
                }
                let oversized = String(repeating: "a", count: BearerAuthorization.maximumTokenLength + 1)
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(oversized)"]) {
                    #expect($0.status == .unauthorized)
                    #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\", error=\"invalid_token\"")
                }
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func aVerifierThatCannotDecideAnswers503() async throws {
        try await VerifierTests.withServer { server in
            let (token, _) = try await VerifierTests.signIn(server)
            // No discovery document at this issuer (404): no keys.
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString + "/elsewhere"), logger: VerifierTests.quiet)
            try await Self.api(verifier).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .serviceUnavailable)
                    #expect($0.headers[.wwwAuthenticate] == nil)
                    let body = try WireCoding.makeDecoder().decode(ErrorBody.self, from: Data(String(buffer: $0.body).utf8))
                    #expect(body.error == .serverError)
                }
            }
        }
    }

    static func legacyAPI(_ verifier: TegataVerifier, _ check: LegacyDeviceCheck) -> some ApplicationProtocol {
        let router = Router(context: LegacyAPIContext.self)
        router.group("/v1").add(middleware: TegataAuthMiddleware(verifier: verifier, realm: "orders", legacyHeaders: check))
            .get("/whoami") { _, context in
                "\(try context.requireTegataUserID()) \(context.tegataClaims == nil ? "legacy" : "token")"
            }
        return Application(router: router)
    }

    static func legacyCheck(_ server: LiveTegata, metrics: TestMetrics, negativeLifetime: TimeInterval = 10) -> LegacyDeviceCheck {
        var configuration = LegacyDeviceCheck.Configuration(
            issuer: server.baseURL.absoluteString, clientID: VerifierTests.feedClient.id, clientSecret: VerifierTests.feedClient.secret)
        configuration.negativeCacheLifetime = negativeLifetime
        // Generous: a call is answered in milliseconds, but CI beside the whole suite once took more than 1 s.
        configuration.timeout = 15
        return LegacyDeviceCheck(configuration: configuration, logger: VerifierTests.quiet, metricsFactory: metrics)
    }

    @Test func legacyHeadersPassOnlyWhenOptedInWithoutATokenAndForARegisteredDevice() async throws {
        try await VerifierTests.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: VerifierTests.quiet)
            let (token, alice) = try await VerifierTests.signIn(server, device: "device-alice")
            let (_, bob) = try await VerifierTests.signIn(server, device: "device-bob01")
            let legacy: HTTPFields = [HTTPField.Name("device-id")!: "device-alice", HTTPField.Name("user-id")!: alice]

            // Off by default: the plain middleware ignores the headers.
            try await Self.api(verifier).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: legacy) { #expect($0.status == .unauthorized) }
            }

            let metrics = TestMetrics()
            let check = Self.legacyCheck(server, metrics: metrics, negativeLifetime: 0)
            try await Self.legacyAPI(verifier, check).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: legacy) {
                    #expect($0.status == .ok)
                    #expect(String(buffer: $0.body) == "\(alice) legacy")
                }
                // A token wins over the headers, and a bad token is not rescued by them.
                var both = legacy
                both[.authorization] = "Bearer \(token)"
                try await client.execute(uri: "/v1/whoami", method: .get, headers: both) { #expect(String(buffer: $0.body) == "\(alice) token") }
                both[.authorization] = "Bearer \(token)x"
                try await client.execute(uri: "/v1/whoami", method: .get, headers: both) {
                    #expect($0.status == .unauthorized)
                    #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\", error=\"invalid_token\"")
                }
                // Someone else's user id, an unknown device, ids of the wrong shape, one header alone.
                for headers: HTTPFields in [
                    [HTTPField.Name("device-id")!: "device-alice", HTTPField.Name("user-id")!: bob],
                    [HTTPField.Name("device-id")!: "device-nobody", HTTPField.Name("user-id")!: alice],
                    [HTTPField.Name("device-id")!: "dev ice", HTTPField.Name("user-id")!: alice],
                    [HTTPField.Name("device-id")!: "device-alice"],
                ] {
                    try await client.execute(uri: "/v1/whoami", method: .get, headers: headers) {
                        #expect($0.status == .unauthorized)
                        #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\"")
                        #expect(String(buffer: $0.body).contains("\"error\":\"invalid_token\""))
                    }
                }
            }
            // Every request decided on legacy headers is counted; one alone decides nothing.
            #expect(try metrics.expectCounter("tegata_verifier_legacy_header_requests_total", [("result", "accepted")]).totalValue == 1)
            #expect(try metrics.expectCounter("tegata_verifier_legacy_header_requests_total", [("result", "refused")]).totalValue == 3)
        }
    }

    @Test func theLegacyAnswerIsCachedBrieflyAndTegataDownIs503() async throws {
        let directory = LiveTegata.makeDirectory()
        let port = try LiveTegata.freePort()
        let metrics = TestMetrics()
        let (check, alice) = try await LiveTegata.with(directory: directory, port: port, { $0.introspectionClients = [VerifierTests.feedClient] }) { server in
            let (token, alice) = try await VerifierTests.signIn(server, device: "device-alice")
            let check = Self.legacyCheck(server, metrics: metrics)
            #expect(try await check.isRegistered(deviceID: "device-alice", userID: alice))
            #expect(try await !check.isRegistered(deviceID: "device-later", userID: alice))
            // Deleted in Tegata: the cached "registered" still stands (that is the price of the cache).
            #expect(try await server.raw("DELETE", "/v1/me", token: token).0 == 204)
            #expect(try await check.isRegistered(deviceID: "device-alice", userID: alice))
            return (check, alice)
        }
        // Tegata is down: cached answers still count; anything else cannot be decided.
        #expect(try await check.isRegistered(deviceID: "device-alice", userID: alice))
        await #expect(throws: TegataVerifierError.self) { try await check.isRegistered(deviceID: "device-other", userID: alice) }
        #expect(try metrics.expectCounter("tegata_verifier_legacy_header_requests_total", [("result", "unavailable")]).totalValue == 1)
        let verifier = TegataVerifier(configuration: .init(issuer: "http://127.0.0.1:\(port)"), logger: VerifierTests.quiet)
        try await Self.legacyAPI(verifier, check).test(.router) { client in
            let headers: HTTPFields = [HTTPField.Name("device-id")!: "device-other", HTTPField.Name("user-id")!: alice]
            try await client.execute(uri: "/v1/whoami", method: .get, headers: headers) {
                #expect($0.status == .serviceUnavailable)
            }
        }
        // Back up, with a short cache: the deletion is seen once the cached answer has expired.
        var configuration = LegacyDeviceCheck.Configuration(
            issuer: "http://127.0.0.1:\(port)", clientID: VerifierTests.feedClient.id, clientSecret: VerifierTests.feedClient.secret)
        configuration.cacheLifetime = 0.2
        // The cache's time is the test's: a loaded machine must not expire the answer early.
        let time = Mutex(Date())
        let short = LegacyDeviceCheck(
            configuration: configuration, logger: VerifierTests.quiet, metricsFactory: TestMetrics(), now: { time.withLock { $0 } })
        try await LiveTegata.with(directory: directory, port: port, { $0.introspectionClients = [VerifierTests.feedClient] }) { server in
            let (_, carol) = try await VerifierTests.signIn(server, device: "device-carol")
            #expect(try await short.isRegistered(deviceID: "device-carol", userID: carol))
            #expect(try await server.raw("DELETE", "/v1/me", token: try await VerifierTests.signIn(server, device: "device-carol").token).0 == 204)
            #expect(try await short.isRegistered(deviceID: "device-carol", userID: carol), "cached")
            time.withLock { $0 = $0.addingTimeInterval(0.3) }
            #expect(try await !short.isRegistered(deviceID: "device-carol", userID: carol), "asked again after the cache lifetime")
        }
    }

    @Test func concurrentLegacyRequestsShareOneCall() async throws {
        let proxyPort = try LiveTegata.freePort()
        let tegataPort = try LiveTegata.freePort()
        try await CountingProxy.with(port: proxyPort, target: "http://127.0.0.1:\(tegataPort)") { proxy in
            try await LiveTegata.with(port: tegataPort, { $0.introspectionClients = [VerifierTests.feedClient] }) { server in
                let (_, alice) = try await VerifierTests.signIn(server, device: "device-alice")
                let check = LegacyDeviceCheck(
                    configuration: .init(issuer: proxy.baseURL, clientID: VerifierTests.feedClient.id, clientSecret: VerifierTests.feedClient.secret),
                    logger: VerifierTests.quiet, metricsFactory: TestMetrics())
                let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<50 { group.addTask { try await check.isRegistered(deviceID: "device-alice", userID: alice) } }
                    return try await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(answers == Array(repeating: true, count: 50))
                #expect(proxy.requests["/v1/devices/check"] == 1, "\(proxy.requests)")
            }
        }
    }
}
