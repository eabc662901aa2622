import Foundation
import TegataClient
import TegataServer
import TegataTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The SDK with DPoP on, end to end against a live Tegata: bound sessions, proofs on every call
/// that needs one, the nonce retry for a phone with the wrong time, and where the key lives.
@Suite struct ClientDPoPTests {
    /// A live server whose issuer is its real URL: proofs name the URL the client calls.
    static func withServer<T: Sendable>(
        _ configure: @escaping @Sendable (inout TegataConfiguration) -> Void = { _ in }, _ body: @Sendable (LiveTegata) async throws -> T
    ) async throws -> T {
        try await LiveTegata.with(port: try LiveTegata.freePort(), configure, body)
    }

    @Test func aDPoPClientsSessionIsBoundAndEveryCallCarriesItsProof() async throws {
        try await Self.withServer { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let client = TegataClient.make(server, storage: storage, transport: transport) { $0.usesDPoP = true }
            let user = try await client.signInWithDevice()
            let stored = try #require(try storage.load())
            let key = try #require(stored.dpopKey, "the key is kept with the credentials")
            #expect(key.kind == .software, "no Secure Enclave on this machine")
            let token = try await client.accessToken()
            let jkt = try #require((claims(of: token)["cnf"] as? [String: String])?["jkt"])

            // Tegata's own endpoints take the bound token through the SDK (a proof per request)…
            #expect(try await client.me().id == user.id)
            try await client.signOutOtherSessions()
            // …but nobody else can use it as a bearer token, or refresh the session without the key.
            #expect(try await server.raw("GET", "/v1/me", token: token).0 == 401)
            let refreshToken = try #require(stored.session?.refreshToken)
            let (status, body) = try await server.raw("POST", "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refreshToken])
            #expect(status == 400 && body["error"] as? String == "invalid_dpop_proof")
            // The client refreshes with proofs, and the new token is bound to the same key.
            try await client.refreshSession()
            let renewed = try await client.accessToken()
            #expect(renewed != token && (claims(of: renewed)["cnf"] as? [String: String])?["jkt"] == jkt)
            #expect(try await client.me().id == user.id)
            #expect(transport.count("/oauth/token") == 1, "no nonce round trip with a correct clock")

            // An anonymous user's sign-out keeps the key with the device credentials: the next
            // session is bound to the same key.
            try await client.signOut()
            #expect(try storage.load()?.dpopKey == key)
            #expect(try await client.signInWithDevice().id == user.id)
            #expect((claims(of: try await client.accessToken())["cnf"] as? [String: String])?["jkt"] == jkt)
        }
    }

    @Test func aPhoneWithTheWrongTimeIsAskedForANonceAndGoesOn() async throws {
        try await Self.withServer { server in
            let clock = DeviceClock()
            clock.advance(by: -3 * 3_600)  // three hours behind
            let transport = CountingTransport()
            let client = TegataClient.make(server, transport: transport, clock: clock) { $0.usesDPoP = true }
            let user = try await client.signInWithDevice()
            #expect(transport.count("/v1/auth/device") == 2, "one use_dpop_nonce answer, one retry with the nonce")
            #expect(try await client.me().id == user.id)
            try await client.refreshSession()
            #expect(transport.count("/oauth/token") == 1, "the nonce of the earlier answer went into the proof")
        }
    }

    @Test func aPermanentUsersSignOutForgetsTheKey() async throws {
        try await FakeProvider.with(keys: [ClientAccountTests.lineKey]) { provider in
            let providers: [String: Any] = ["line": ["audiences": ["1234567890"], "jwks_url": provider.jwksURL]]
            let environment = ["TEGATA_PROVIDERS": String(decoding: try JSONSerialization.data(withJSONObject: providers), as: UTF8.self)]
            let loaded = try TegataConfiguration.load(file: nil, environment: environment).providers
            try await Self.withServer({ $0.providers = loaded }) { server in
                let storage = InMemoryCredentialStorage()
                let client = TegataClient.make(server, storage: storage) { $0.usesDPoP = true }
                try await client.signInWithDevice()
                let me = try await client.linkIdentity(idToken: ClientAccountTests.lineToken(), provider: "line", nonce: nil)
                #expect(!me.anon, "linking goes through the bound token's proof")
                try await client.signOut()
                #expect(try storage.load()?.dpopKey == nil)
                // Signing in with the provider again makes a new key and a session bound to it.
                _ = try await client.signIn(idToken: ClientAccountTests.lineToken(), provider: "line", nonce: nil)
                #expect(try storage.load()?.dpopKey != nil)
                #expect(claims(of: try await client.accessToken())["cnf"] != nil)
            }
        }
    }

    @Test func withoutDPoPNothingChanges() async throws {
        try await Self.withServer { server in
            let storage = InMemoryCredentialStorage()
            let client = TegataClient.make(server, storage: storage)
            try await client.signInWithDevice()
            #expect(try storage.load()?.dpopKey == nil)
            #expect(claims(of: try await client.accessToken())["cnf"] == nil)
            #expect(try await server.raw("GET", "/v1/me", token: try await client.accessToken()).0 == 200)
        }
    }
}
