import AsyncHTTPClient
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import Synchronization
import TegataTestSupport
import TegataTokens
import TegataVerifier
import Testing

/// Outgoing fetches go over https only (plain http only to loopback) and never through a redirect.
@Suite struct FetchPolicyTests {
    @Test func onlyHTTPSOrLoopbackHTTPIsAllowed() {
        for allowed in ["https://auth.example.com/.well-known/jwks.json", "http://127.0.0.1:8080/x", "http://localhost/x",
                        "http://[::1]:9/x", "http://127.9.8.7/x", "HTTPS://Auth.Example.com"] {
            #expect(throws: Never.self, "\(allowed)") { try FetchPolicy.check(allowed) }
        }
        for refused in ["http://auth.example.com/jwks", "http://127.0.0.1.example.com/x", "http://10.0.0.1/x", "ftp://127.0.0.1/x",
                        "file:///etc/passwd", "/relative", "", "http://", "http://128.0.0.1/x", "http://127.0.0.256/x"] {
            #expect(throws: FetchPolicy.Refusal.self, "\(refused)") { try FetchPolicy.check(refused) }
        }
    }

    /// A loopback server that redirects every request to `target`, counting what it gets; and a
    /// second one, the target, counting too.
    func withRedirect<T: Sendable>(
        _ body: (_ redirector: Int, _ targetHits: @Sendable () -> Int, _ redirectorHits: @Sendable () -> Int) async throws -> T
    ) async throws -> T {
        let hits = Mutex(0)
        let redirected = Mutex(0)
        let target = Router()
        target.get("**") { _, _ -> Response in
            hits.withLock { $0 += 1 }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: #"{"keys":[]}"#)))
        }
        return try await withRunningApplication({ ready in
            Application(router: target, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { await ready($0.localAddress?.port ?? 0) })
        }) { targetPort in
            let redirector = Router()
            redirector.get("**") { request, _ -> Response in
                redirected.withLock { $0 += 1 }
                // Another host (localhost, not 127.0.0.1) and path: what an on-path attacker would do.
                return Response(status: .found, headers: [.location: "http://localhost:\(targetPort)\(request.uri.path)"])
            }
            return try await withRunningApplication({ ready in
                Application(router: redirector, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { await ready($0.localAddress?.port ?? 0) })
            }) { redirectorPort in
                try await body(redirectorPort, { hits.withLock { $0 } }, { redirected.withLock { $0 } })
            }
        }
    }

    @Test func theVerifierFollowsNoRedirect() async throws {
        try await withRedirect { redirector, targetHits, redirectorHits in
            var configuration = TegataVerifierConfiguration(issuer: "http://127.0.0.1:\(redirector)")
            configuration.keySetPolicy.minimumLifetime = 1
            var logger = Logger(label: "fetch-policy-test")
            logger.logLevel = .critical
            let verifier = TegataVerifier(configuration: configuration, logger: logger)
            let token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.e30.AAAA"
            let error = await #expect(throws: TegataVerifierError.self) { _ = try await verifier.verify(token) }
            #expect(error?.code == .keysUnavailable, "no keys: the discovery answer was a redirect")
            #expect(redirectorHits() >= 1, "discovery was asked")
            #expect(targetHits() == 0, "the redirect target was never asked")
        }
    }

    @Test func aFetcherOnAClientThatFollowsRedirectsStillRefusesTheAnswer() async throws {
        try await withRedirect { redirector, targetHits, _ in
            let following = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .follow(max: 5, allowCycles: false)))
            let fetcher = HTTPDocumentFetcher(client: following)
            await #expect(throws: FetchPolicy.Refusal.self) { _ = try await fetcher.get("http://127.0.0.1:\(redirector)/jwks.json") }
            #expect(targetHits() == 1, "the client followed; the fetcher refused the answer")
            try await following.shutdown()
        }
    }

    @Test func aPlainHTTPIssuerOffLoopbackIsNeverAsked() async throws {
        let fetcher = HTTPDocumentFetcher()
        let error = await #expect(throws: FetchPolicy.Refusal.self) { _ = try await fetcher.get("http://auth.example.com/.well-known/openid-configuration") }
        #expect(error?.description.contains("only https") == true)
    }
}
