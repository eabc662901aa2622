import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// A sign-in claims hook on loopback: a real HTTP endpoint that checks each call's Standard
/// Webhooks signature itself, records what it was told and answers as the test says.
final class HookEndpoint: Sendable {
    enum Answer: Sendable {
        case claims(String)
        case status(Int)
        case slow(seconds: Double, claims: String)
        /// The head at once, then the body a space every 0.2 s (each read well within the timeout)
        /// for `seconds`, then its end.
        case trickle(seconds: Double)
    }

    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    private let state = Mutex<(answer: Answer, calls: [Data], badSignatures: Int)>((.claims("{\"claims\":{}}"), [], 0))

    var answer: Answer {
        get { state.withLock { $0.answer } }
        set { state.withLock { $0.answer = newValue } }
    }
    /// The bodies of the calls whose signature held.
    var calls: [[String: Any]] {
        state.withLock { $0.calls }.map { (try? JSONSerialization.jsonObject(with: $0) as? [String: Any]) ?? [:] }
    }
    var badSignatures: Int { state.withLock { $0.badSignatures } }

    /// Checks the signature as the Standard Webhooks specification says, from its own reading of it.
    static func signatureHolds(_ request: Request, body: Data) -> Bool {
        guard let id = request.headers[HTTPField.Name("webhook-id")!],
              let timestamp = request.headers[HTTPField.Name("webhook-timestamp")!],
              let signature = request.headers[HTTPField.Name("webhook-signature")!],
              let seconds = Int64(timestamp), abs(Date().timeIntervalSince1970 - Double(seconds)) < 3600 * 24 * 365 * 10,
              let key = Data(base64Encoded: String(secret.dropFirst("whsec_".count)))
        else { return false }
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(body)
        let expected = Data(HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))).base64EncodedString()
        return signature.split(separator: " ").contains { $0 == "v1,\(expected)" }
    }

    static func with<T: Sendable>(_ body: @Sendable (HookEndpoint, URL) async throws -> T) async throws -> T {
        let endpoint = HookEndpoint()
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let data = Data(bytes.readableBytesView)
            guard Self.signatureHolds(request, body: data) else {
                endpoint.state.withLock { $0.badSignatures += 1 }
                return Response(status: .unauthorized)
            }
            endpoint.state.withLock { $0.calls.append(data) }
            switch endpoint.answer {
            case .claims(let json):
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
            case .status(let code):
                return Response(status: .init(code: code))
            case .slow(let seconds, let json):
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
            case .trickle(let seconds):
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: #"{"claims":"#))
                    for _ in 0..<Int(seconds / 0.2) {
                        try await Task.sleep(for: .milliseconds(200))
                        try await writer.write(ByteBuffer(string: " "))
                    }
                    try await writer.write(ByteBuffer(string: "{}}"))
                    try await writer.finish(nil)
                })
            }
        }
        var logger = Logger(label: "hook-endpoint")
        logger.logLevel = .critical
        return try await withRunningApplication({ onServerRunning in
            Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await onServerRunning($0.localAddress?.port ?? 0) }, logger: logger)
        }) { port in try await body(endpoint, URL(string: "http://127.0.0.1:\(port)/hook")!) }
    }
}

@Suite struct ClaimsHookTests {
    /// A harness calling the hook at `url`. The timeout is generous where the hook answers at once
    /// (the tests run side by side on a busy machine); the timeout tests use a shorter one and
    /// answers far slower than it.
    static func harness(
        _ url: URL, failure: SignInClaimsHook.FailureMode = .refuse, provider: FakeProvider? = nil, timeout: TimeInterval = 10
    ) throws -> Harness {
        var harness = try AdminUsersTests.harness(provider)
        harness.configuration.claimsHook = ClaimsHookSettings(
            url: url, key: try #require(StandardWebhookSignature.key(HookEndpoint.secret)), timeout: timeout, failure: failure)
        return harness
    }

    @Test func theHookIsToldOfEachDeviceSignInAndItsClaimsStayWithTheSessionThroughRefreshes() async throws {
        try await HookEndpoint.with { endpoint, url in
            endpoint.answer = .claims(#"{"claims":{"npln_user_id":"p-1","roles":["player"]}}"#)
            let harness = try Self.harness(url)
            try await harness.withApp { client, services in
                let first = try await client.signIn("device-hook-1")
                #expect(endpoint.badSignatures == 0 && endpoint.calls.count == 1)
                let call = try #require(endpoint.calls.first)
                #expect(call["type"] as? String == "sign_in" && call["method"] as? String == "device" && call["new_user"] as? Bool == true)
                #expect((call["user"] as? [String: Any])?["id"] as? String == first.user.id)
                #expect(call["session_id"] as? String == sid(of: first.accessToken))
                #expect(claim("npln_user_id", of: first.accessToken) as? String == "p-1")

                // Kept by the session through its refreshes, without another call.
                let refreshed = try await client.refreshed(first.refreshToken)
                #expect(claim("npln_user_id", of: refreshed.accessToken) as? String == "p-1" && endpoint.calls.count == 1)
                let introspected = try await client.introspect(refreshed.accessToken).decode(IntrospectionResponse.self)
                #expect(introspected.app["roles"] == .array([.string("player")]))

                // Beside the operator's claims, the hook's winning a name both set; a new sign-in asks again.
                try await services.administration.setClaims(first.user.id, ["roles": .array([.string("admin")]), "tier": .string("gold")])
                endpoint.answer = .claims(#"{"claims":{"npln_user_id":"p-2","roles":["moderator"]}}"#)
                let again = try await client.signIn("device-hook-1")
                #expect(endpoint.calls.count == 2 && endpoint.calls[1]["new_user"] as? Bool == false)
                #expect((endpoint.calls[1]["app_claims"] as? [String: Any])?["tier"] as? String == "gold")
                #expect(claim("npln_user_id", of: again.accessToken) as? String == "p-2")
                #expect(claim("roles", of: again.accessToken) as? [String] == ["moderator"] && claim("tier", of: again.accessToken) as? String == "gold")
                let older = try await client.refreshed(refreshed.refreshToken)
                #expect(claim("npln_user_id", of: older.accessToken) as? String == "p-1", "each session keeps its own")
            }
        }
    }

    @Test func aTokenExchangeTellsTheHookTheIdentityAndTheVerifiedClaims() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            try await HookEndpoint.with { endpoint, url in
                endpoint.answer = .claims(#"{"claims":{"apple_user":"yes"}}"#)
                let harness = try Self.harness(url, provider: provider)
                try await harness.withApp { client, _ in
                    let idToken = TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: "nonce-hook-1", now: harness.clock.now()))
                    let response = try await client.exchange(idToken, provider: "apple", nonce: "nonce-hook-1")
                    #expect(response.status == .ok, "\(response.text)")
                    let tokens = try response.decode(TokenResponse.self)
                    #expect(claim("apple_user", of: tokens.accessToken) as? String == "yes")
                    let call = try #require(endpoint.calls.first)
                    #expect(call["method"] as? String == "apple" && call["new_user"] as? Bool == true)
                    #expect((call["identity"] as? [String: Any])?["subject"] as? String == "001234.0123456789abcdef0123456789abcdef.0123")
                    let verified = try #require(call["provider_claims"] as? [String: Any])
                    #expect(verified["iss"] as? String == "https://appleid.apple.com" && verified["is_private_email"] as? String == "true")
                }
            }
        }
    }

    @Test func aLinkTellsTheHookAndItsClaimsGoToTheCallersSessionFromItsNextRefresh() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            try await HookEndpoint.with { endpoint, url in
                endpoint.answer = .claims(#"{"claims":{"level":1}}"#)
                let harness = try Self.harness(url, provider: provider)
                try await harness.withApp { client, _ in
                    let device = try await client.signIn("device-hook-link")
                    endpoint.answer = .claims(#"{"claims":{"level":2,"linked":"apple"}}"#)
                    let idToken = TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: "nonce-hook-link", now: harness.clock.now()))
                    #expect(try await client.link(idToken, provider: "apple", nonce: "nonce-hook-link", token: device.accessToken).status == .created)
                    let call = try #require(endpoint.calls.last)
                    #expect(call["type"] as? String == "identity_linked" && call["method"] as? String == "apple")
                    #expect(call["session_id"] as? String == sid(of: device.accessToken))
                    let refreshed = try await client.refreshed(device.refreshToken)
                    #expect(claim("level", of: refreshed.accessToken) as? Int == 2 && claim("linked", of: refreshed.accessToken) as? String == "apple")

                    // A refused failure answers 503 (here on linking the same identity again); the link
                    // stands and the session keeps its claims.
                    endpoint.answer = .status(500)
                    let again = TokenExchangeTests.appleKey.sign(ProviderClaims.apple(nonce: "nonce-hook-link-2", now: harness.clock.now()))
                    let failed = try await client.link(again, provider: "apple", nonce: "nonce-hook-link-2", token: refreshed.accessToken)
                    #expect(failed.status == .serviceUnavailable, "\(failed.text)")
                    #expect(try await client.me(refreshed.accessToken).text.contains("apple"), "the link stands")
                    let after = try await client.refreshed(refreshed.refreshToken)
                    #expect(claim("level", of: after.accessToken) as? Int == 2)
                }
            }
        }
    }

    @Test(arguments: [
        HookEndpoint.Answer.status(500), .status(302), .slow(seconds: 12, claims: #"{"claims":{}}"#), .trickle(seconds: 12),
        .claims("not json"),
        .claims(#"{"roles":[]}"#), .claims(#"{"claims":{"sub":"someone-else"}}"#),
        .claims(#"{"claims":{"k":"\#(String(repeating: "x", count: 1000))"}}"#),
    ])
    func aFailingHookRefusesTheSignInWith503AndNoTokenOfItsSessionWorks(answer: HookEndpoint.Answer) async throws {
        try await HookEndpoint.with { endpoint, url in
            endpoint.answer = answer
            let harness = try Self.harness(url, failure: .refuse, timeout: 3)
            try await harness.withApp { client, services in
                let response = try await DeviceRevocationTests().deviceSignIn(client, "device-hook-2")
                #expect(response.status == .serviceUnavailable && response.errorBody?.error == .serverError, "\(response.text)")
                #expect(response.errorBody?.errorDescription?.contains("claims hook") == true)
                let user = try #require(try await services.store.deviceOwner(deviceID: "device-hook-2"))
                #expect(try await services.store.sessions(ofUser: user).allSatisfy { $0.revokedAt != nil }, "the session it opened is ended")
                // The hook answers again: the same device signs in.
                endpoint.answer = .claims(#"{"claims":{"ok":true}}"#)
                let again = try await DeviceRevocationTests().deviceSignIn(client, "device-hook-2")
                #expect(again.status == .ok, "\(again.text)")
                let samples = Sample.parse(services.metrics.exposition())
                #expect(samples.value("tegata_claims_hook_calls_total", ["result": "failed"]) == 1)
                #expect(samples.value("tegata_sign_ins_total", ["method": "device", "result": "hook_failed"]) == 1)
            }
        }
    }

    @Test func withFailureAllowedAFailingHookSignsInWithoutItsClaims() async throws {
        try await HookEndpoint.with { endpoint, url in
            endpoint.answer = .status(500)
            let harness = try Self.harness(url, failure: .allow)
            try await harness.withApp { client, services in
                let tokens = try await client.signIn("device-hook-3")
                #expect(claim("npln_user_id", of: tokens.accessToken) == nil)
                #expect(try await client.me(tokens.accessToken).status == .ok)
                #expect(Sample.parse(services.metrics.exposition()).value("tegata_claims_hook_calls_total", ["result": "skipped"]) == 1)
            }
        }
    }

    @Test func theHookIsConfiguredWithAnHTTPSURLOrLoopbackAndAWebhookSecret() throws {
        func load(_ environment: [String: String]) throws -> TegataConfiguration {
            try TegataConfiguration.load(file: nil, environment: environment)
        }
        let good = try load(["TEGATA_CLAIMS_HOOK_URL": "https://hooks.example.com/claims", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret,
                             "TEGATA_CLAIMS_HOOK_TIMEOUT": "1.5s", "TEGATA_CLAIMS_HOOK_FAILURE": "allow"])
        #expect(good.claimsHook?.url.absoluteString == "https://hooks.example.com/claims" && good.claimsHook?.timeout == 1.5)
        #expect(good.claimsHook?.failure == .allow && good.claimsHook?.key.count == 32)
        #expect(try load(["TEGATA_CLAIMS_HOOK_URL": "http://127.0.0.1:9/h", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret]).claimsHook?.failure == .refuse)
        do {
            _ = try load(["TEGATA_CLAIMS_HOOK_URL": "http://[::1]:9/h", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret, "TEGATA_CLAIMS_HOOK_TIMEOUT": "50ms"])
            Issue.record("a 50 ms timeout was taken")
        } catch {
            #expect("\(error)".contains("TEGATA_CLAIMS_HOOK_TIMEOUT"), "\(error)")
        }
        do {
            _ = try load(["TEGATA_CLAIMS_HOOK_URL": "http://[::1]:9/h", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret, "TEGATA_CLAIMS_HOOK_TIMEOUT": "0.05"])
            Issue.record("a 0.05 s timeout was taken")
        } catch {
            #expect("\(error)".contains("between 0.1s and 10s"), "\(error)")
        }
        for bad in [
            ["TEGATA_CLAIMS_HOOK_URL": "http://hooks.example.com/claims", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret],
            ["TEGATA_CLAIMS_HOOK_URL": "https://hooks.example.com/claims"],
            ["TEGATA_CLAIMS_HOOK_URL": "https://hooks.example.com/claims", "TEGATA_CLAIMS_HOOK_SECRET": "whsec_c2hvcnQ="],
            ["TEGATA_CLAIMS_HOOK_URL": "https://hooks.example.com/claims", "TEGATA_CLAIMS_HOOK_SECRET": "not-whsec"],
            ["TEGATA_CLAIMS_HOOK_URL": "https://hooks.example.com/claims", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret, "TEGATA_CLAIMS_HOOK_TIMEOUT": "30s"],
            ["TEGATA_CLAIMS_HOOK_URL": "https://hooks.example.com/claims", "TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret, "TEGATA_CLAIMS_HOOK_FAILURE": "maybe"],
            ["TEGATA_CLAIMS_HOOK_SECRET": HookEndpoint.secret],
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try load(bad) }
            do { _ = try load(bad) } catch { #expect(!"\(error)".contains(HookEndpoint.secret.dropFirst(6)), "the secret is never in a message") }
        }
    }
}
