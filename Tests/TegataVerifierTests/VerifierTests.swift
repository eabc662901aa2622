import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import MetricsTestKit
import TegataCore
import TegataServer
import TegataTestSupport
import TegataTokens
import TegataVerifier
import TegataWire
import Testing

/// The verifier against a live Tegata: keys through discovery, claim checks, the revocation feed
/// and what an unreachable feed does.
@Suite struct VerifierTests {
    static let feedClient = TegataConfiguration.ClientCredential(id: "orders-api", secret: "orders-api-secret-0123456789abcdef")

    /// A Tegata whose issuer is its own URL, with a resource-server client for the feed.
    static func withServer<T: Sendable>(_ body: @Sendable (LiveTegata) async throws -> T) async throws -> T {
        try await LiveTegata.with(port: try LiveTegata.freePort(), { $0.introspectionClients = [feedClient] }, body)
    }

    /// Runs `verifier` as a service for the duration of `body`.
    static func running<T: Sendable>(_ verifier: TegataVerifier, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await verifier.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    static func signIn(_ server: LiveTegata, device: String = "device-0001") async throws -> (token: String, user: String) {
        let (status, body) = try await server.raw(
            "POST", "/v1/auth/device", json: ["device_id": device, "device_secret": String(repeating: "k", count: 40), "platform": "ios"])
        #expect(status == 201 || status == 200)
        return (body["access_token"] as! String, (body["user"] as! [String: Any])["id"] as! String)
    }

    /// A verifier of `server`'s tokens that follows its revocation feed.
    static func followingVerifier(_ server: LiveTegata) -> TegataVerifier {
        var configuration = TegataVerifierConfiguration(issuer: server.baseURL.absoluteString)
        configuration.revocations = .init(clientID: feedClient.id, clientSecret: feedClient.secret)
        return TegataVerifier(configuration: configuration, logger: quiet)
    }

    static var quiet: Logger {
        var logger = Logger(label: "verifier-test")
        logger.logLevel = .critical
        return logger
    }

    @Test func aTokenFromTegataVerifiesOfflineWithTypedClaims() async throws {
        try await Self.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: Self.quiet)
            let (token, user) = try await Self.signIn(server)
            let claims = try await verifier.verify(token)
            #expect(claims.sub == user && claims.anon && claims.amr == ["device"] && claims.tv == 0)
            #expect(claims.iss == server.baseURL.absoluteString)

            // Tampered, truncated, foreign: refused with the reason.
            var parts = token.split(separator: ".").map(String.init)
            parts[1] = String(parts[1].dropLast(2)) + (parts[1].hasSuffix("A") ? "B" : "A") + "A"
            await #expect(throws: TegataVerifierError.self) { _ = try await verifier.verify(parts.joined(separator: ".")) }
            let error = await #expect(throws: TegataVerifierError.self) { _ = try await verifier.verify("not.a.token") }
            #expect(error?.code == .invalidToken && error?.isClientError == true)
            let oversized = await #expect(throws: TegataVerifierError.self) { _ = try await verifier.verify(String(repeating: "a", count: 9000)) }
            #expect(oversized?.reason == .malformed)
        }
    }

    @Test func appClaimsReachTheResourceServerInTheTypedClaims() async throws {
        try await Self.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: Self.quiet)
            let (_, user) = try await Self.signIn(server, device: "device-claims")
            let claims: [String: JSONValue] = ["roles": .array([.string("admin")]), "stripe_customer": .string("cus_1"), "level": .integer(3)]
            try await #require(server.services).administration.setClaims(user, claims)
            let (token, _) = try await Self.signIn(server, device: "device-claims")
            let verified = try await verifier.verify(token)
            #expect(verified.app == claims && verified.sub == user)
        }
    }

    @Test func theAudienceAndIssuerMustMatch() async throws {
        try await Self.withServer { server in
            let (token, _) = try await Self.signIn(server)
            let otherAudience = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString, audience: "https://other.example.com"), logger: Self.quiet)
            let error = await #expect(throws: TegataVerifierError.self) { _ = try await otherAudience.verify(token) }
            #expect(error?.reason == .wrongAudience)
            // An issuer whose discovery document names another issuer gives no keys at all.
            let wrongIssuer = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString + "/"), logger: Self.quiet)
            let keys = await #expect(throws: TegataVerifierError.self) { _ = try await wrongIssuer.verify(token) }
            #expect(keys?.code == .keysUnavailable && keys?.isClientError == false)
        }
    }

    @Test func aLoggedOutSessionIsRefusedWithinTwoSeconds() async throws {
        try await Self.withServer { server in
            let verifier = Self.followingVerifier(server)
            try await Self.running(verifier) {
                let (token, _) = try await Self.signIn(server)
                let (other, _) = try await Self.signIn(server, device: "device-0002")
                #expect(try await eventually { verifier.isRevocationListLoaded })
                _ = try await verifier.verify(token)

                #expect(try await server.raw("POST", "/v1/logout", token: token, json: ["scope": "local"]).0 == 204)
                let start = Date()
                let refused = try await eventually(2) {
                    do { _ = try await verifier.verify(token); return false } catch let error as TegataVerifierError { return error.code == .revoked }
                }
                #expect(refused, "still accepted \(Date().timeIntervalSince(start)) s after logout")
                #expect(try await verifier.verify(other).sub != "")  // another session is untouched
            }
        }
    }

    @Test func aGlobalLogoutRefusesEveryOlderTokenOfTheUser() async throws {
        try await Self.withServer { server in
            let verifier = Self.followingVerifier(server)
            try await Self.running(verifier) {
                let (first, _) = try await Self.signIn(server)
                let (second, _) = try await Self.signIn(server)
                #expect(try await eventually { verifier.isRevocationListLoaded })
                #expect(try await server.raw("POST", "/v1/logout", token: first, json: ["scope": "global"]).0 == 204)
                #expect(try await eventually(2) {
                    do { _ = try await verifier.verify(second); return false } catch let error as TegataVerifierError { return error.code == .revoked }
                })
                // A token issued after the move is accepted.
                let (third, _) = try await Self.signIn(server)
                #expect(try await verifier.verify(third).tv == 1)
            }
        }
    }

    @Test(arguments: [TegataVerifierConfiguration.FailureMode.failClosed, .failOpen])
    func anUnreachableFeedFailsAsConfiguredLoudly(mode: TegataVerifierConfiguration.FailureMode) async throws {
        try await Self.withServer { server in
            let metrics = TestMetrics()
            var configuration = TegataVerifierConfiguration(issuer: server.baseURL.absoluteString)
            configuration.revocations = .init(clientID: Self.feedClient.id, clientSecret: "wrong-secret")
            configuration.revocations?.maximumStaleness = 0.3
            configuration.revocations?.failureMode = mode
            let verifier = TegataVerifier(configuration: configuration, logger: Self.quiet, metricsFactory: metrics)
            try await Self.running(verifier) {
                let (token, _) = try await Self.signIn(server)
                // The follower's first attempt fails (a loaded machine may take a while to make it),
                // then the list is older than maximumStaleness.
                #expect(try await eventually(10) {
                    ((try? metrics.expectCounter("tegata_verifier_revocation_feed_failures_total"))?.totalValue ?? 0) >= 1
                })
                try await Task.sleep(for: .milliseconds(400))
                switch mode {
                case .failClosed:
                    let error = await #expect(throws: TegataVerifierError.self) { _ = try await verifier.verify(token) }
                    #expect(error?.code == .revocationStatusUnknown && error?.isClientError == false)
                    #expect(try metrics.expectCounter("tegata_verifier_unchecked_revocation_total", [("mode", "fail_closed")]).totalValue == 1)
                case .failOpen:
                    _ = try await verifier.verify(token)
                    #expect(try metrics.expectCounter("tegata_verifier_unchecked_revocation_total", [("mode", "fail_open")]).totalValue == 1)
                }
            }
        }
    }

    /// Until the revocation list has been read once, nothing is known about revocations: fail-closed
    /// refuses from the first second (not only after the staleness bound), fail-open accepts, and
    /// both count every such decision.
    @Test(arguments: [TegataVerifierConfiguration.FailureMode.failClosed, .failOpen])
    func beforeTheFirstFeedReadTheFailureModeAppliesAtOnce(mode: TegataVerifierConfiguration.FailureMode) async throws {
        try await Self.withServer { server in
            let metrics = TestMetrics()
            var configuration = TegataVerifierConfiguration(issuer: server.baseURL.absoluteString)
            configuration.revocations = .init(clientID: Self.feedClient.id, clientSecret: Self.feedClient.secret)
            configuration.revocations?.maximumStaleness = 3_600  // a long bound: it must not matter here
            configuration.revocations?.failureMode = mode
            let verifier = TegataVerifier(configuration: configuration, logger: Self.quiet, metricsFactory: metrics)
            let (token, _) = try await Self.signIn(server)
            #expect(!verifier.isRevocationListLoaded)
            // Not running: the feed has never been read.
            switch mode {
            case .failClosed:
                let error = await #expect(throws: TegataVerifierError.self) { _ = try await verifier.verify(token) }
                #expect(error?.code == .revocationStatusUnknown)
                #expect(try metrics.expectCounter("tegata_verifier_unchecked_revocation_total", [("mode", "fail_closed")]).totalValue == 1)
            case .failOpen:
                _ = try await verifier.verify(token)
                #expect(try metrics.expectCounter("tegata_verifier_unchecked_revocation_total", [("mode", "fail_open")]).totalValue == 1)
            }
            // Once the list is loaded, tokens are checked against it and nothing more is counted.
            try await Self.running(verifier) {
                #expect(try await eventually { verifier.isRevocationListLoaded })
                _ = try await verifier.verify(token)
            }
            let counted = try metrics.expectCounter("tegata_verifier_unchecked_revocation_total", [("mode", mode == .failClosed ? "fail_closed" : "fail_open")])
            #expect(counted.totalValue == 1)
        }
    }
}
