import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTokens
import TegataTestSupport
import TegataWire
import Testing

/// The token-exchange grant and identity links, against a real JWKS server in the test process.
@Suite struct TokenExchangeTests {
    static let appleKey = ProviderSigningKey.rsa(ProviderKeys.rsa1, kid: "apple-1")
    static let googleKey = ProviderSigningKey.rsa(ProviderKeys.rsa2, kid: "google-1")
    static let lineKey = ProviderSigningKey.ec(ProviderKeys.ec1, kid: "line-1")
    static let rawNonce = "n-0S6_WzA2Mj-8f3kq0b1XyZ"

    /// A harness whose providers all take their keys from `provider` (only those named in `only`,
    /// when given: tests that count fetches configure one provider, since all share one JWKS URL).
    static func harness(_ provider: FakeProvider, only: Set<String>? = nil, refetch: String? = nil) throws -> Harness {
        var providers: [String: Any] = [
            "apple": ["audiences": ["com.example.game"], "jwks_url": provider.jwksURL, "store_email": true],
            "google": ["audience": "1234.apps.googleusercontent.com", "jwks_url": provider.jwksURL],
            "line": ["audiences": ["1234567890"], "jwks_url": provider.jwksURL],
            "games": ["issuer": provider.baseURL, "audiences": ["results-api"], "algorithms": ["ES256"],
                      "subject_claim": "player_id", "amr": "games", "discovery_url": provider.discoveryURL],
        ]
        if let only { providers = providers.filter { only.contains($0.key) } }
        var environment = ["TEGATA_PROVIDERS": String(decoding: try JSONSerialization.data(withJSONObject: providers), as: UTF8.self)]
        if let refetch { environment["TEGATA_PROVIDER_KEYS_REFETCH_INTERVAL"] = refetch }
        let loaded = try TegataConfiguration.load(file: nil, environment: environment)
        return Harness { configuration in
            configuration.providers = loaded.providers
            configuration.providerKeysRefetchInterval = loaded.providerKeysRefetchInterval
        }
    }

    static let allKeys = [appleKey, googleKey, lineKey]

    /// LINE Login's web ID tokens (HS256 with the channel secret) sign in through the exchange,
    /// also while LINE's public keys cannot be fetched (they are not needed for them); a token
    /// signed with another secret is refused, and without the setting HS256 is refused.
    @Test func lineWebTokensSignedWithTheChannelSecretSignIn() async throws {
        let secret = "0123456789abcdef0123456789abcdef"
        @Sendable func hs256(_ claims: [String: Any], secret: String) throws -> String {
            let segment = { @Sendable (object: [String: Any]) in Base64URL.encode(try JSONSerialization.data(withJSONObject: object)) }
            let input = try segment(["alg": "HS256", "typ": "JWT"]) + "." + segment(claims)
            let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            return input + "." + Base64URL.encode(Data(mac))
        }
        // The JWKS URL points at a closed port: LINE's keys are unreachable.
        let unreachable = "http://127.0.0.1:9/jwks.json"
        for (configured, accepted) in [(true, true), (false, false)] {
            var line: [String: Any] = ["audiences": ["1234567890"], "jwks_url": unreachable]
            if configured { line["channel_secret"] = secret }
            let providers = String(decoding: try JSONSerialization.data(withJSONObject: ["line": line]), as: UTF8.self)
            let loaded = try TegataConfiguration.load(file: nil, environment: ["TEGATA_PROVIDERS": providers])
            let harness = Harness { $0.providers = loaded.providers }
            try await harness.withApp { client, _ in
                let good = try hs256(ProviderClaims.line(now: harness.clock.now()), secret: secret)
                let answer = try await client.exchange(good, provider: "line", nonce: nil)
                if accepted {
                    #expect(answer.status == .ok, "\(answer.text)")
                    #expect(claim("amr", of: try answer.decode(TokenResponse.self).accessToken) as? [String] == ["line"])
                    let forged = try hs256(ProviderClaims.line(subject: "Uattacker", now: harness.clock.now()), secret: "another-secret-0123456789abcdef01")
                    let refused = try await client.exchange(forged, provider: "line", nonce: nil)
                    #expect(refused.status == .badRequest && refused.errorBody?.error == .invalidRequest, "\(refused.text)")
                    #expect(!refused.text.contains(secret))
                } else {
                    // Without the secret an HS256 token is refused outright (not a 503 for the keys).
                    #expect(answer.status == .badRequest && answer.errorBody?.error == .invalidRequest, "\(answer.text)")
                }
            }
        }
    }

    // MARK: Each preset's real claim shape

    @Test func appleSignInCreatesAPermanentUserThenSignsItInAgain() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            let users = try await harness.withApp { client, _ -> [String] in
                let token = Self.appleKey.sign(ProviderClaims.apple(nonce: Self.rawNonce, now: harness.clock.now()))
                let first = try await client.exchange(token, provider: "apple", nonce: Self.rawNonce)
                #expect(first.status == .ok, "\(first.text)")
                #expect(first.headers[.cacheControl] == "no-store")
                let tokens = try first.decode(TokenResponse.self)
                #expect(tokens.user.anon == false)
                #expect(tokens.issuedTokenType == "urn:ietf:params:oauth:token-type:access_token")
                #expect(claim("amr", of: tokens.accessToken) as? [String] == ["apple"])
                #expect(claim("anon", of: tokens.accessToken) as? Bool == false)
                #expect(!first.text.contains(token))

                // The same ID token a second time is a replay, whatever its nonce says.
                let replay = try await client.exchange(token, provider: "apple", nonce: Self.rawNonce)
                #expect(replay.status == .badRequest && replay.errorBody?.errorDescription?.contains("already used") == true, "\(replay.text)")
                let fresh = Self.appleKey.sign(ProviderClaims.fresh(ProviderClaims.apple(nonce: Self.rawNonce, now: harness.clock.now())))
                let again = try await client.exchange(fresh, provider: "apple", nonce: Self.rawNonce)
                #expect(again.status == .ok)
                let second = try again.decode(TokenResponse.self)
                #expect(second.user.id == tokens.user.id)
                #expect(sid(of: second.accessToken) != sid(of: tokens.accessToken), "each sign-in opens a new session")

                let me = try await client.me(second.accessToken)
                let body = try me.decode(MeResponse.self)
                #expect(body.identities == [IdentitySummary(provider: "apple", subject: "001234.0123456789abcdef0123456789abcdef.0123")])
                #expect(body.anon == false)
                // The refresh token of an exchanged session works like any other.
                let refreshed = try await client.refreshed(second.refreshToken)
                #expect(refreshed.user.id == tokens.user.id)
                return [tokens.user.id]
            }
            // Apple is configured to store the e-mail address, Google is not.
            let emails = try await Self.storedEmails(harness, users: users)
            #expect(emails == ["apple": "abc123@privaterelay.appleid.com"])
        }
    }

    @Test func googleAcceptsBothOfItsIssuerSpellingsAndStoresNoEmailByDefault() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            let users = try await harness.withApp { client, _ -> Set<String> in
                var users = Set<String>()
                for issuer in ["https://accounts.google.com", "accounts.google.com"] {
                    // Google's preset requires a nonce: its SDKs all take one.
                    let bare = Self.googleKey.sign(ProviderClaims.google(issuer: issuer, now: harness.clock.now()))
                    #expect(try await client.exchange(bare, provider: "google", nonce: nil).errorBody?.errorDescription?.contains("requires a nonce") == true)
                    let token = Self.googleKey.sign(ProviderClaims.google(issuer: issuer, nonce: Self.rawNonce, now: harness.clock.now()))
                    let response = try await client.exchange(token, provider: "google", nonce: Self.rawNonce)
                    #expect(response.status == .ok, "\(issuer): \(response.text)")
                    let tokens = try response.decode(TokenResponse.self)
                    #expect(claim("amr", of: tokens.accessToken) as? [String] == ["google"])
                    users.insert(tokens.user.id)
                }
                return users
            }
            #expect(users.count == 1, "both spellings are one issuer: one user")
            #expect(try await Self.storedEmails(harness, users: Array(users)) == ["google": nil])
        }
    }

    @Test func lineSignsInWithES256() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let token = Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now()))
                let response = try await client.exchange(token, provider: "line", nonce: nil, platform: "web")
                #expect(response.status == .ok, "\(response.text)")
                let tokens = try response.decode(TokenResponse.self)
                #expect(claim("amr", of: tokens.accessToken) as? [String] == ["line"])
                let sessions = try await client.authorized("/v1/sessions", .get, token: tokens.accessToken)
                #expect(sessions.text.contains("\"platform\":\"web\""), "\(sessions.text)")
                // An RS256 token is refused for LINE, whose provider allows ES256 only.
                let rsa = Self.googleKey.sign(ProviderClaims.line(now: harness.clock.now()))
                try await client.expectRefused(rsa, provider: "line", nonce: nil, because: "alg")
            }
        }
    }

    @Test func genericProviderThroughDiscoveryWithItsOwnSubjectClaim() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let now = Int(harness.clock.now().timeIntervalSince1970)
                let claims: [String: Any] = ["iss": provider.baseURL, "aud": ["results-api", "other"], "azp": "results-api", "sub": "account-1",
                                             "player_id": "player-42", "iat": now, "exp": now + 300]
                let response = try await client.exchange(Self.lineKey.sign(claims), provider: "games", nonce: nil)
                #expect(response.status == .ok, "\(response.text)")
                let tokens = try response.decode(TokenResponse.self)
                #expect(claim("amr", of: tokens.accessToken) as? [String] == ["games"])
                let me = try await client.me(tokens.accessToken).decode(MeResponse.self)
                #expect(me.identities == [IdentitySummary(provider: "games", subject: "player-42")])
                #expect(provider.discoveryFetches >= 1)

                var noPlayer = claims
                noPlayer["player_id"] = nil
                try await client.expectRefused(Self.lineKey.sign(noPlayer), provider: "games", nonce: nil, because: "subject")
            }
        }
    }

    // MARK: Refusals

    @Test func everyBadTokenIsRefusedWithInvalidRequestAndCreatesNothing() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let now = harness.clock.now()
                func apple(_ change: (inout [String: Any]) -> Void) -> String {
                    var claims = ProviderClaims.apple(nonce: Self.rawNonce, now: now)
                    change(&claims)
                    return Self.appleKey.sign(claims)
                }
                let cases: [(String, String, String?)] = [
                    ("wrong iss", apple { $0["iss"] = "https://appleid.apple.com.evil.example" }, Self.rawNonce),
                    ("wrong aud", apple { $0["aud"] = "com.other.app" }, Self.rawNonce),
                    ("expired", apple { $0["exp"] = Int(now.timeIntervalSince1970) - 31 }, Self.rawNonce),
                    ("future iat", apple { $0["iat"] = Int(now.timeIntervalSince1970) + 120 }, Self.rawNonce),
                    ("not yet valid", apple { $0["nbf"] = Int(now.timeIntervalSince1970) + 120 }, Self.rawNonce),
                    ("no sub", apple { $0["sub"] = nil }, Self.rawNonce),
                    ("nonce missing in request", apple { _ in }, nil),
                    ("nonce missing in token", apple { $0["nonce"] = nil }, Self.rawNonce),
                    ("nonce required by apple", apple { $0["nonce"] = nil }, nil),
                    ("wrong nonce", apple { _ in }, "another-raw-nonce-value"),
                    ("raw nonce in token", apple { $0["nonce"] = Self.rawNonce }, Self.rawNonce),
                    ("tampered payload", Self.tamper(apple { _ in }), Self.rawNonce),
                    ("alg none", JOSE.unsigned(ProviderClaims.apple(nonce: Self.rawNonce, now: now), kid: "apple-1"), Self.rawNonce),
                    ("HS256 with the public key as secret (PEM)",
                     JOSE.hs256(ProviderClaims.apple(nonce: Self.rawNonce, now: now),
                                secret: Data(ProviderKeys.rsa1.publicKey.pemRepresentation.utf8), kid: "apple-1"), Self.rawNonce),
                    ("HS256 with the public key as secret (DER)",
                     JOSE.hs256(ProviderClaims.apple(nonce: Self.rawNonce, now: now),
                                secret: ProviderKeys.rsa1.publicKey.derRepresentation, kid: "apple-1"), Self.rawNonce),
                    ("attacker key in jwk header",
                     ProviderSigningKey.rsa(ProviderKeys.attackerRSA, kid: "apple-1").sign(
                        ProviderClaims.apple(nonce: Self.rawNonce, now: now),
                        header: ["jwk": ProviderSigningKey.rsa(ProviderKeys.attackerRSA, kid: "apple-1").jwk,
                                 "jku": provider.baseURL + "/attacker-keys"]), Self.rawNonce),
                    ("access token type", Self.appleKey.sign(ProviderClaims.apple(nonce: Self.rawNonce, now: now), header: ["typ": "at+jwt"]),
                     Self.rawNonce),
                    ("signed by another provider's key", Self.googleKey.sign(ProviderClaims.apple(nonce: Self.rawNonce, now: now),
                                                                           header: ["kid": "apple-1"]), Self.rawNonce),
                    ("not a JWT", "not-a-jwt", Self.rawNonce),
                ]
                for (name, token, nonce) in cases {
                    try await client.expectRefused(token, provider: "apple", nonce: nonce, because: name)
                }
                // Leeway: 29 s past expiry still passes (leeway is 30 s).
                let late = apple { $0["exp"] = Int(now.timeIntervalSince1970) - 29 }
                #expect(try await client.exchange(late, provider: "apple", nonce: Self.rawNonce).status == .ok)
            }
            #expect(try await Self.userCount(harness) == 1, "only the one good token created a user")
        }
    }

    @Test func badParametersAreInvalidRequest() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let token = Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now()))
                let base = ["grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": token,
                            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "provider": "line"]
                for (change, expected) in [
                    (["subject_token_type": "urn:ietf:params:oauth:token-type:jwt"], "subject_token_type"),
                    (["provider": "facebook"], "provider"),
                    (["provider": ""], "provider"),
                    (["subject_token": ""], "subject_token"),
                    (["requested_token_type": "urn:ietf:params:oauth:token-type:id_token"], "requested_token_type"),
                    (["actor_token": "x"], "actor_token"),
                    (["platform": "Not A Platform"], "platform"),
                    (["nonce": String(repeating: "n", count: 600)], "nonce"),
                ] as [([String: String], String)] {
                    let response = try await client.execute(
                        uri: "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                        body: form(base.merging(change) { $1 }))
                    #expect(response.status == .badRequest, "\(change)")
                    #expect(response.errorBody?.error == .invalidRequest, "\(change): \(response.text)")
                    #expect(response.errorBody?.errorDescription?.contains(expected) == true, "\(change): \(response.text)")
                    #expect(!response.text.contains(token))
                }
            }
        }
    }

    @Test func concurrentFirstSignInsOfOneIdentityMakeOneUser() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let now = harness.clock.now()
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 {
                        // Twenty distinct ID tokens of one identity (one token is exchanged once only).
                        let token = Self.lineKey.sign(ProviderClaims.fresh(ProviderClaims.line(now: now)))
                        group.addTask { try await client.exchange(token, provider: "line", nonce: nil).decode(TokenResponse.self).user.id }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(ids.count == 1)
                // An oversized token is a bad request, not a crash or a 5xx.
                try await client.expectRefused(String(repeating: "A", count: 40_000), provider: "line", nonce: nil, because: "huge")
            }
            #expect(try await Self.userCount(harness) == 1)
        }
    }

    // MARK: Keys: unknown kid, rotation, provider down, Cache-Control

    @Test func unknownKidsRefetchAtMostOncePerInterval() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider, only: ["line"], refetch: "60s")
            try await harness.withApp { client, _ in
                let good = Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now()))
                #expect(try await client.exchange(good, provider: "line", nonce: nil).status == .ok)
                let before = provider.jwksFetches
                for index in 0..<25 {
                    let random = ProviderSigningKey.ec(ProviderKeys.ec2, kid: "random-\(index)")
                        .sign(ProviderClaims.line(now: harness.clock.now()))
                    try await client.expectRefused(random, provider: "line", nonce: nil, because: "unknown kid \(index)")
                }
                #expect(provider.jwksFetches - before <= 1, "25 unknown kids made \(provider.jwksFetches - before) fetches")
                harness.clock.advance(by: 61)
                let random = ProviderSigningKey.ec(ProviderKeys.ec2, kid: "random-late").sign(ProviderClaims.line(now: harness.clock.now()))
                try await client.expectRefused(random, provider: "line", nonce: nil, because: "unknown kid after the interval")
                #expect(provider.jwksFetches - before <= 2)
                #expect(provider.jwksFetches - before >= 1, "after the interval an unknown kid refetches")
            }
        }
    }

    @Test func aRotatedKeyIsPickedUpThroughTheUnknownKidRefetch() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider, only: ["line"], refetch: "30s")
            try await harness.withApp { client, _ in
                #expect(try await client.exchange(Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now())),
                                                  provider: "line", nonce: nil).status == .ok)
                // The provider rotates: the old LINE key is gone, a new one signs.
                let rotated = ProviderSigningKey.ec(ProviderKeys.ec2, kid: "line-2")
                provider.publish([Self.appleKey, Self.googleKey, rotated])
                harness.clock.advance(by: 31)
                let token = rotated.sign(ProviderClaims.line(now: harness.clock.now()))
                let response = try await client.exchange(token, provider: "line", nonce: nil)
                #expect(response.status == .ok, "\(response.text)")
                // And the retired key no longer verifies anything.
                try await client.expectRefused(Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now())),
                                               provider: "line", nonce: nil, because: "retired key")
            }
        }
    }

    @Test func staleKeysServeWhileTheProviderIsDown() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            provider.setCacheControl("public, max-age=600")
            let harness = try Self.harness(provider, only: ["line"])
            try await harness.withApp { client, _ in
                #expect(try await client.exchange(Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now())),
                                                  provider: "line", nonce: nil).status == .ok)
                provider.setDown(true)
                harness.clock.advance(by: 3_600)
                let fetches = provider.jwksFetches
                let response = try await client.exchange(
                    Self.lineKey.sign(ProviderClaims.line(subject: "U-second", now: harness.clock.now())), provider: "line", nonce: nil)
                #expect(response.status == .ok, "stale keys still verify: \(response.text)")
                #expect(provider.jwksFetches > fetches, "the expired set was refetched (and failed)")
                #expect(harness.logs.all.contains { $0.contains("serving stale keys") })
            }
        }
    }

    @Test func aProviderDownFromTheStartIsUnavailableNotABadRequest() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            provider.setDown(true)
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let response = try await client.exchange(Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now())),
                                                         provider: "line", nonce: nil)
                #expect(response.status == .serviceUnavailable, "\(response.text)")
                #expect(response.headers[.retryAfter] == "1", "a 503 says when to retry")
                provider.setDown(false)
                harness.clock.advance(by: 11)
                #expect(try await client.exchange(Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now())),
                                                  provider: "line", nonce: nil).status == .ok)
            }
        }
    }

    @Test func cacheControlDecidesWhenKeysAreFetchedAgain() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            provider.setCacheControl("public, max-age=600")
            let harness = try Self.harness(provider, only: ["line"])
            try await harness.withApp { client, _ in
                func signIn() async throws {
                    let token = Self.lineKey.sign(ProviderClaims.line(now: harness.clock.now()))
                    #expect(try await client.exchange(token, provider: "line", nonce: nil).status == .ok)
                }
                try await signIn()
                let first = provider.jwksFetches
                harness.clock.advance(by: 300)
                try await signIn()
                #expect(provider.jwksFetches == first, "within max-age: no fetch")
                harness.clock.advance(by: 301)
                try await signIn()
                #expect(provider.jwksFetches >= first + 1, "after max-age: fetched again")
            }
        }
    }

    // MARK: Linking

    @Test func anAnonymousDeviceUserLinksAppleAndKeepsItsAccount() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let device = try await client.signIn()
                #expect(device.user.anon)
                func appleToken() -> String { Self.appleKey.sign(ProviderClaims.fresh(ProviderClaims.apple(nonce: Self.rawNonce, now: harness.clock.now()))) }
                let apple = appleToken()
                let linked = try await client.link(apple, provider: "apple", nonce: Self.rawNonce, token: device.accessToken)
                #expect(linked.status == .created, "\(linked.text)")
                let me = try linked.decode(MeResponse.self)
                #expect(me.id == device.user.id && me.anon == false)
                #expect(me.identities.map(\.provider) == ["apple"])
                // Linking again (with a new ID token: the first one is spent) is idempotent.
                #expect(try await client.link(apple, provider: "apple", nonce: Self.rawNonce, token: device.accessToken).errorBody?.errorDescription?.contains("already used") == true)
                #expect(try await client.link(appleToken(), provider: "apple", nonce: Self.rawNonce, token: device.accessToken).status == .ok)
                // The next refresh carries anon: false; the device still signs in to the same user.
                let refreshed = try await client.refreshed(device.refreshToken)
                #expect(claim("anon", of: refreshed.accessToken) as? Bool == false)
                #expect(try await client.signIn().user.id == device.user.id)
                // Signing in with Apple now reaches the same account.
                let exchanged = try await client.exchange(appleToken(), provider: "apple", nonce: Self.rawNonce).decode(TokenResponse.self)
                #expect(exchanged.user.id == device.user.id)

                // Another device user cannot take that Apple identity.
                let other = try await client.signIn("device-0002")
                let conflict = try await client.link(appleToken(), provider: "apple", nonce: Self.rawNonce, token: other.accessToken)
                #expect(conflict.status == .conflict)
                #expect(conflict.errorBody?.error == .conflict)
                #expect(try await client.me(other.accessToken).decode(MeResponse.self).anon, "nothing changed for the other user")
                // Nor can the first user link a second Apple identity.
                let second = Self.appleKey.sign(ProviderClaims.apple(subject: "009999.other", nonce: Self.rawNonce, now: harness.clock.now()))
                #expect(try await client.link(second, provider: "apple", nonce: Self.rawNonce, token: refreshed.accessToken).status == .conflict)
                // A bad ID token is a bad request, and a missing access token a 401.
                let bad = try await client.link(appleToken(), provider: "apple", nonce: "wrong-nonce-value", token: other.accessToken)
                #expect(bad.status == .badRequest && bad.errorBody?.error == .invalidRequest)
                let anonymous = try await client.execute(
                    uri: "/v1/me/identities", method: .post, headers: [.contentType: "application/json"],
                    body: json(["subject_token": apple, "subject_token_type": IDTokenPresentation.idTokenType, "provider": "apple",
                                "nonce": Self.rawNonce]))
                #expect(anonymous.status == .unauthorized)
            }
        }
    }

    @Test func unlinkingNeverLeavesAUserWithoutAWayToSignIn() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            let harness = try Self.harness(provider)
            try await harness.withApp { client, _ in
                let now = harness.clock.now()
                // A user created by Apple sign-in has no device: its only identity cannot go.
                let appleUser = try await client.exchange(
                    Self.appleKey.sign(ProviderClaims.apple(nonce: Self.rawNonce, now: now)), provider: "apple", nonce: Self.rawNonce
                ).decode(TokenResponse.self)
                let last = try await client.authorized("/v1/me/identities/apple", .delete, token: appleUser.accessToken)
                #expect(last.status == .conflict && last.errorBody?.error == .conflict)
                // With Google linked as well, Apple can go; the user stays permanent.
                let google = Self.googleKey.sign(ProviderClaims.google(nonce: Self.rawNonce, now: now))
                #expect(try await client.link(google, provider: "google", nonce: Self.rawNonce, token: appleUser.accessToken).status == .created)
                #expect(try await client.authorized("/v1/me/identities/apple", .delete, token: appleUser.accessToken).status == .noContent)
                let me = try await client.me(appleUser.accessToken).decode(MeResponse.self)
                #expect(me.identities.map(\.provider) == ["google"] && me.anon == false)
                #expect(try await client.authorized("/v1/me/identities/apple", .delete, token: appleUser.accessToken).status == .notFound)
                #expect(try await client.authorized("/v1/me/identities/google", .delete, token: appleUser.accessToken).status == .conflict)

                // A device user who linked LINE can unlink it and is anonymous again.
                let device = try await client.signIn("device-0003")
                let line = Self.lineKey.sign(ProviderClaims.line(now: now))
                #expect(try await client.link(line, provider: "line", nonce: nil, token: device.accessToken).status == .created)
                #expect(try await client.authorized("/v1/me/identities/line", .delete, token: device.accessToken).status == .noContent)
                let after = try await client.me(device.accessToken).decode(MeResponse.self)
                #expect(after.anon && after.identities.isEmpty)
                // The LINE identity is free again: signing in with it makes a new user.
                let fresh = try await client.exchange(
                    Self.lineKey.sign(ProviderClaims.fresh(ProviderClaims.line(now: now))), provider: "line", nonce: nil).decode(TokenResponse.self)
                #expect(fresh.user.id != device.user.id)
            }
        }
    }

    @Test func discoveryAdvertisesTheExchangeOnlyWithProviders() async throws {
        try await FakeProvider.with(keys: Self.allKeys) { provider in
            try await Self.harness(provider).withApp { client, _ in
                let text = try await client.execute(uri: "/.well-known/openid-configuration", method: .get).text
                #expect(text.contains("urn:ietf:params:oauth:grant-type:token-exchange"))
            }
        }
        try await Harness().withApp { client, _ in
            let text = try await client.execute(uri: "/.well-known/openid-configuration", method: .get).text
            #expect(!text.contains("token-exchange"))
            let response = try await client.exchange("a.b.c", provider: "apple", nonce: nil)
            #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(response.text)")
        }
    }

    // MARK: Helpers

    static func tamper(_ token: String) -> String {
        var parts = token.split(separator: ".").map(String.init)
        var payload = try! JSONSerialization.jsonObject(with: Base64URL.decode(parts[1])!) as! [String: Any]
        payload["sub"] = "someone-else"
        parts[1] = JOSE.segment(payload)
        return parts.joined(separator: ".")
    }

    /// The email stored with each identity of `users`, by provider.
    static func storedEmails(_ harness: Harness, users: [String]) async throws -> [String: String?] {
        try await harness.withStore { store in
            var result: [String: String?] = [:]
            for user in users {
                for identity in try await store.identities(ofUser: user) { result[identity.provider] = .some(identity.email) }
            }
            return result
        }
    }

    static func userCount(_ harness: Harness) async throws -> Int {
        try await harness.withStore { try await $0.countUsers() }
    }
}

extension TestClientProtocol {
    func exchange(_ idToken: String, provider: String, nonce: String?, platform: String? = nil) async throws -> TestResponse {
        var fields = ["grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": idToken,
                      "subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "provider": provider]
        fields["nonce"] = nonce
        fields["platform"] = platform
        return try await execute(
            uri: "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: form(fields))
    }

    func link(_ idToken: String, provider: String, nonce: String?, token: String) async throws -> TestResponse {
        var fields: [String: Any] = ["subject_token": idToken, "subject_token_type": IDTokenPresentation.idTokenType, "provider": provider]
        fields["nonce"] = nonce
        return try await authorized("/v1/me/identities", .post, token: token, body: json(fields))
    }

    func expectRefused(_ idToken: String, provider: String, nonce: String?, because reason: String,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let response = try await exchange(idToken, provider: provider, nonce: nonce)
        #expect(response.status == .badRequest, "\(reason): \(response.status) \(response.text)", sourceLocation: sourceLocation)
        #expect(response.errorBody?.error == .invalidRequest, "\(reason): \(response.text)", sourceLocation: sourceLocation)
        #expect(!response.text.contains(idToken), "\(reason): the token is never echoed", sourceLocation: sourceLocation)
    }
}
