import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// Each rate limit tripping and recovering over a real socket, with the contract's 429 and the IETF
/// rate-limit header fields. The test client is 127.0.0.1; listed as a trusted proxy it can speak
/// for other addresses through `X-Forwarded-For`, as a load balancer would.
@Suite struct RateLimitTests {
    /// A harness whose limits are `limits` (all others at their defaults), 127.0.0.1 trusted as a proxy.
    static func harness(_ limits: [RateLimitName: String], trustLoopback: Bool = true, _ adjust: @escaping (inout TegataConfiguration) -> Void = { _ in }) throws -> Harness {
        var environment: [String: String] = [:]
        for (name, value) in limits { environment[TegataConfiguration.environmentName(of: name.key)] = value }
        let loaded = try TegataConfiguration.load(file: nil, environment: environment)
        return Harness { configuration in
            configuration.port = 0
            configuration.rateLimits = loaded.rateLimits
            if trustLoopback { configuration.trustedProxies = [IPNetwork(cidr: "127.0.0.1")!] }
            adjust(&configuration)
        }
    }

    /// Checks a 429 of `policy` with its headers, and returns its Retry-After.
    @discardableResult
    static func expectLimited(
        _ response: TestResponse, _ policy: String, quota: Int, window: Int, retryAfter: Int? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int? {
        #expect(response.status == .tooManyRequests, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.errorBody?.error == .rateLimited, sourceLocation: sourceLocation)
        #expect(response.errorBody?.errorDescription?.contains(policy) == true, sourceLocation: sourceLocation)
        let seconds = response.headers[.retryAfter].flatMap { Int($0) }
        if let retryAfter { #expect(seconds == retryAfter, sourceLocation: sourceLocation) }
        #expect(response.headers[HTTPField.Name("RateLimit-Policy")!] == "\"\(policy)\";q=\(quota);w=\(window)", sourceLocation: sourceLocation)
        #expect(response.headers[HTTPField.Name("RateLimit")!] == "\"\(policy)\";r=0;t=\(seconds ?? -1)", sourceLocation: sourceLocation)
        #expect(response.headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
        return seconds
    }

    @Test func newDeviceRegistrationsPerAddressTripAndRecoverAndKnownDevicesStillSignIn() async throws {
        let harness = try Self.harness([.registrations: "3/1m"])
        try await harness.withApp(.live) { client, services in
            for index in 0..<3 {
                #expect(try await client.device("device-a-\(index)", from: "198.51.100.7").status == .created)
            }
            let refused = try await client.device("device-a-3", from: "198.51.100.7")
            Self.expectLimited(refused, "registrations", quota: 3, window: 60, retryAfter: 20)
            #expect(try await services.store.deviceOwner(deviceID: "device-a-3") == nil, "nothing is created when refused")
            #expect(try await client.device("device-a-0", from: "198.51.100.7").status == .ok, "a known device is no registration")
            #expect(try await client.device("device-b-0", from: "198.51.100.8").status == .created, "another address counts apart")
            // IPv6: one /64 is one subscriber.
            for index in 0..<3 {
                #expect(try await client.device("device-c-\(index)", from: "2001:db8:1:2::\(index + 1)").status == .created)
            }
            Self.expectLimited(try await client.device("device-c-3", from: "2001:db8:1:2:ffff::9"), "registrations", quota: 3, window: 60)
            #expect(try await client.device("device-c-3", from: "2001:db8:1:3::1").status == .created)
            harness.clock.advance(by: 20)
            #expect(try await client.device("device-a-3", from: "198.51.100.7").status == .created, "one interval later, one more")
            Self.expectLimited(try await client.device("device-a-4", from: "198.51.100.7"), "registrations", quota: 3, window: 60, retryAfter: 20)
        }
    }

    @Test func aForwardingHeaderFromAnUntrustedPeerIsIgnored() async throws {
        let harness = try Self.harness([.registrations: "2/1m"], trustLoopback: false)
        try await harness.withApp(.live) { client, _ in
            #expect(try await client.device("device-0", from: "198.51.100.1").status == .created)
            #expect(try await client.device("device-1", from: "198.51.100.2").status == .created)
            // A client naming a new address for itself each time is still the socket's peer.
            Self.expectLimited(try await client.device("device-2", from: "198.51.100.3"), "registrations", quota: 2, window: 60)
            Self.expectLimited(try await client.execute(
                uri: "/v1/auth/device", method: .post,
                headers: [.contentType: "application/json", HTTPField.Name("Forwarded")!: "for=198.51.100.4"],
                body: deviceBody("device-3")), "registrations", quota: 2, window: 60)
        }
    }

    @Test func failedDeviceSignInsPerAddressStopEveryAttemptFromThereUntilTheyRecover() async throws {
        let harness = try Self.harness([.failedSignIns: "2/1m"])
        try await harness.withApp(.live) { client, _ in
            #expect(try await client.device("device-0", from: "198.51.100.7").status == .created)
            let wrong = String(repeating: "w", count: 40)
            #expect(try await client.device("device-0", secret: wrong, from: "198.51.100.7").status == .unauthorized)
            #expect(try await client.device("device-0", secret: wrong, from: "198.51.100.7").status == .unauthorized)
            // Spent: even the right secret waits (the server cannot know it is right without trying it).
            Self.expectLimited(try await client.device("device-0", from: "198.51.100.7"), "failed-sign-ins", quota: 2, window: 60, retryAfter: 30)
            #expect(try await client.device("device-0", from: "198.51.100.8").status == .ok, "another address is not affected")
            harness.clock.advance(by: 30)
            #expect(try await client.device("device-0", from: "198.51.100.7").status == .ok)
        }
    }

    @Test func signInsPerDeviceAreCountedWhateverTheAddress() async throws {
        let harness = try Self.harness([.deviceSignIns: "2/1m"])
        try await harness.withApp(.live) { client, _ in
            #expect(try await client.device("device-0", from: "198.51.100.1").status == .created)
            #expect(try await client.device("device-0", from: "198.51.100.2").status == .ok)
            Self.expectLimited(try await client.device("device-0", from: "198.51.100.3"), "device-sign-ins", quota: 2, window: 60, retryAfter: 30)
            #expect(try await client.device("device-1", from: "198.51.100.3").status == .created)
            harness.clock.advance(by: 30)
            #expect(try await client.device("device-0", from: "198.51.100.3").status == .ok)
        }
    }

    @Test func failedRefreshesPerAddressTripAndTheRefusedTokenStillWorksAfterwards() async throws {
        let harness = try Self.harness([.failedRefreshes: "2/1m"])
        try await harness.withApp(.live) { client, _ in
            let tokens = try await client.signIn()
            let garbage = String(repeating: "A", count: RefreshToken.encodedLength)
            #expect(try await client.refresh(garbage, from: "198.51.100.7").status == .badRequest)
            #expect(try await client.refresh(garbage, from: "198.51.100.7").status == .badRequest)
            let refused = try await client.refresh(tokens.refreshToken, from: "198.51.100.7")
            Self.expectLimited(refused, "failed-refreshes", quota: 2, window: 60, retryAfter: 30)
            harness.clock.advance(by: 30)
            // A 429 ends nothing: the very token refused is good once the limit recovers.
            let answer = try await client.refresh(tokens.refreshToken, from: "198.51.100.7")
            #expect(answer.status == .ok, "\(answer.text)")
        }
    }

    @Test func refreshesPerSessionTripAndTheSessionSurvives() async throws {
        let harness = try Self.harness([.sessionRefreshes: "2/1m"])
        try await harness.withApp(.live) { client, _ in
            var token = try await client.signIn().refreshToken
            for _ in 0..<2 {
                let answer = try await client.refresh(token, from: "198.51.100.7")
                #expect(answer.status == .ok)
                token = try answer.decode(TokenResponse.self).refreshToken
            }
            // Another session of another device is not affected.
            let other = try await client.signIn("device-0002")
            #expect(try await client.refresh(other.refreshToken, from: "198.51.100.7").status == .ok)
            Self.expectLimited(try await client.refresh(token, from: "198.51.100.9"), "session-refreshes", quota: 2, window: 60, retryAfter: 30)
            harness.clock.advance(by: 30)
            #expect(try await client.refresh(token, from: "198.51.100.9").status == .ok, "the same token, after the wait")
        }
    }

    @Test func tokenExchangesPerAddressAndPerExternalIdentityTripAndRecover() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            var configured = try TokenExchangeTests.harness(provider)
            configured.configuration.port = 0
            configured.configuration.trustedProxies = [IPNetwork(cidr: "127.0.0.1")!]
            configured.configuration.rateLimits.overrides[.exchanges] = RateLimitName.exchanges.policy(3, per: 60)
            configured.configuration.rateLimits.overrides[.exchangeSubjects] = RateLimitName.exchangeSubjects.policy(2, per: 60)
            let harness = configured
            try await harness.withApp(.live) { client, _ in
                func apple(_ subject: String) -> String {
                    var claims = ProviderClaims.fresh(ProviderClaims.apple(nonce: TokenExchangeTests.rawNonce, now: harness.clock.now()))
                    claims["sub"] = subject
                    return TokenExchangeTests.appleKey.sign(claims)
                }
                func exchange(_ token: String, from address: String) async throws -> TestResponse {
                    try await client.exchange(token, provider: "apple", nonce: TokenExchangeTests.rawNonce, from: address)
                }
                #expect(try await exchange(apple("subject-1"), from: "198.51.100.1").status == .ok)
                #expect(try await exchange(apple("subject-1"), from: "198.51.100.2").status == .ok)
                // The third exchange of one identity, from a third address: refused, and its ID
                // token is not spent (it is counted before the token's one use is recorded).
                let third = apple("subject-1")
                Self.expectLimited(try await exchange(third, from: "198.51.100.3"), "exchange-subjects", quota: 2, window: 60, retryAfter: 30)
                // Per address: bad tokens count too (the limit comes before any verification).
                #expect(try await exchange("not-a-jwt", from: "198.51.100.4").status == .badRequest)
                #expect(try await exchange("not-a-jwt", from: "198.51.100.4").status == .badRequest)
                #expect(try await exchange(apple("subject-2"), from: "198.51.100.4").status == .ok)
                Self.expectLimited(try await exchange(apple("subject-3"), from: "198.51.100.4"), "exchanges", quota: 3, window: 60, retryAfter: 20)
                harness.clock.advance(by: 30)
                let later = try await exchange(third, from: "198.51.100.3")
                #expect(later.status == .ok, "the refused ID token works after the wait: \(later.text)")
            }
        }
    }

    @Test func theAdminAPIAndTheWebhooksAreLimitedPerAddressBeforeAnyKeyIsCompared() async throws {
        let harness = try Self.harness([.admin: "2/1m", .webhooks: "2/1m"]) {
            $0.adminAPIKey = String(repeating: "k", count: 40)
            $0.revenueCatWebhookAuth = String(repeating: "r", count: 20)
        }
        try await harness.withApp(.live) { client, _ in
            func admin(_ key: String, from address: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/admin/v1/keys/rotate", method: .post,
                    headers: [.authorization: "Bearer \(key)", HTTPField.Name("X-Forwarded-For")!: address])
            }
            let wrong = String(repeating: "x", count: 40)
            #expect(try await admin(wrong, from: "198.51.100.1").status == .unauthorized)
            #expect(try await admin(wrong, from: "198.51.100.1").status == .unauthorized)
            Self.expectLimited(try await admin(String(repeating: "k", count: 40), from: "198.51.100.1"), "admin", quota: 2, window: 60, retryAfter: 30)
            #expect(try await admin(String(repeating: "k", count: 40), from: "198.51.100.2").status == .ok)

            func webhook(from address: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/v1/webhooks/revenuecat", method: .post,
                    headers: [.authorization: "wrong-wrong-wrong-wrong", .contentType: "application/json",
                              HTTPField.Name("X-Forwarded-For")!: address],
                    body: ByteBuffer(string: "{}"))
            }
            #expect(try await webhook(from: "198.51.100.1").status == .unauthorized)
            #expect(try await webhook(from: "198.51.100.1").status == .unauthorized)
            Self.expectLimited(try await webhook(from: "198.51.100.1"), "webhooks", quota: 2, window: 60, retryAfter: 30)
            harness.clock.advance(by: 30)
            #expect(try await webhook(from: "198.51.100.1").status == .unauthorized, "recovered: the request is judged again")
        }
    }

    @Test func turnedOffNoLimitTrips() async throws {
        let harness = try Self.harness([.registrations: "1/1m", .deviceSignIns: "1/1m", .sessionRefreshes: "1/1m"]) {
            $0.rateLimits.enabled = false
        }
        try await harness.withApp(.live) { client, _ in
            for index in 0..<3 {
                #expect(try await client.device("device-\(index)", from: "198.51.100.7").status == .created)
                #expect(try await client.device("device-\(index)", from: "198.51.100.7").status == .ok)
            }
            var token = try await client.signIn().refreshToken
            for _ in 0..<3 {
                let answer = try await client.refresh(token, from: "198.51.100.7")
                #expect(answer.status == .ok)
                token = try answer.decode(TokenResponse.self).refreshToken
            }
        }
    }

    @Test func anIPv6AddressIsLimitedByItsSlash64() {
        #expect(IPAddress("2001:db8:1:2:aaaa:bbbb:cccc:dddd")?.rateLimitKey == "2001:db8:1:2::/64")
        #expect(IPAddress("2001:db8:1:2::1")?.rateLimitKey == IPAddress("2001:db8:1:2:ffff::")?.rateLimitKey)
        #expect(IPAddress("198.51.100.7")?.rateLimitKey == "198.51.100.7")
        #expect(IPAddress("::ffff:198.51.100.7")?.rateLimitKey == "198.51.100.7")
    }
}

extension TestClientProtocol {
    func device(_ id: String, secret: String = validSecret, from address: String) async throws -> TestResponse {
        try await execute(
            uri: "/v1/auth/device", method: .post,
            headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: address],
            body: deviceBody(id, secret: secret))
    }

    func refresh(_ token: String, from address: String) async throws -> TestResponse {
        try await execute(
            uri: "/oauth/token", method: .post,
            headers: [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Forwarded-For")!: address],
            body: form(["grant_type": "refresh_token", "refresh_token": token]))
    }

    func exchange(_ idToken: String, provider: String, nonce: String?, from address: String) async throws -> TestResponse {
        try await execute(
            uri: "/oauth/token", method: .post,
            headers: [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Forwarded-For")!: address],
            body: form(["grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": idToken,
                        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "provider": provider,
                        "nonce": nonce ?? ""]))
    }
}
