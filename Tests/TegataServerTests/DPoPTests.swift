import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

extension HTTPField.Name {
    static let dpop = HTTPField.Name("DPoP")!
    static let dpopNonce = HTTPField.Name("DPoP-Nonce")!
}

/// DPoP (RFC 9449) at Tegata's own endpoints, with proofs made by the tests' independent
/// implementation (``TestDPoPKey``), never Tegata's.
@Suite struct DPoPTests {
    static let issuer = "http://127.0.0.1:8080"

    func deviceSignIn(_ client: any TestClientProtocol, proof: String?, id: String = "device-0001") async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let proof { headers[.dpop] = proof }
        return try await client.execute(uri: "/v1/auth/device", method: .post, headers: headers, body: deviceBody(id))
    }

    func refresh(_ client: any TestClientProtocol, _ refreshToken: String, proof: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let proof { headers[.dpop] = proof }
        return try await client.execute(
            uri: "/oauth/token", method: .post, headers: headers, body: form(["grant_type": "refresh_token", "refresh_token": refreshToken]))
    }

    func me(_ client: any TestClientProtocol, _ token: String, scheme: String = "DPoP", proof: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "\(scheme) \(token)"]
        if let proof { headers[.dpop] = proof }
        return try await client.execute(uri: "/v1/me", method: .get, headers: headers)
    }

    func boundSignIn(_ client: any TestClientProtocol, _ key: TestDPoPKey, at now: Date) async throws -> TokenResponse {
        let response = try await deviceSignIn(client, proof: key.proof("POST", Self.issuer + "/v1/auth/device", iat: now))
        #expect(response.status == .created, "\(response.text)")
        return try response.decode(TokenResponse.self)
    }

    @Test func aSignInWithAProofBindsTheSessionAndItsTokens() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let response = try await deviceSignIn(client, proof: key.proof("POST", Self.issuer + "/v1/auth/device", iat: harness.clock.now()))
            #expect(response.status == .created, "\(response.text)")
            #expect(response.headers[.dpopNonce]?.isEmpty == false, "every answer to a proof carries the current nonce")
            let tokens = try response.decode(TokenResponse.self)
            #expect(tokens.tokenType == "DPoP")
            #expect((claim("cnf", of: tokens.accessToken) as? [String: String]) == ["jkt": key.thumbprint])

            // At Tegata's own endpoints: with a proof by the key for this request and token.
            let url = Self.issuer + "/v1/me"
            let ok = try await me(client, tokens.accessToken, proof: key.proof("GET", url, iat: harness.clock.now(), accessToken: tokens.accessToken))
            #expect(ok.status == .ok, "\(ok.text)")
            // As a bearer token: refused, whatever else comes with it.
            let bearer = try await me(client, tokens.accessToken, scheme: "Bearer", proof: key.proof("GET", url, iat: harness.clock.now(), accessToken: tokens.accessToken))
            #expect(bearer.status == .unauthorized && bearer.errorBody?.error == .invalidToken, "\(bearer.text)")
            #expect(bearer.headers[values: .wwwAuthenticate].contains { $0.hasPrefix("DPoP ") && $0.contains(#"algs="ES256""#) })
            // Each way a proof can fail at a resource: 401 invalid_dpop_proof with a DPoP challenge.
            let other = TestDPoPKey()
            for (why, proof) in [
                ("no proof", nil),
                ("no ath", key.proof("GET", url, iat: harness.clock.now())),
                ("another token's ath", key.proof("GET", url, iat: harness.clock.now(), accessToken: "another")),
                ("another key", other.proof("GET", url, iat: harness.clock.now(), accessToken: tokens.accessToken)),
                ("another method", key.proof("POST", url, iat: harness.clock.now(), accessToken: tokens.accessToken)),
                ("another uri", key.proof("GET", Self.issuer + "/v1/sessions", iat: harness.clock.now(), accessToken: tokens.accessToken)),
            ] as [(String, String?)] {
                let refused = try await me(client, tokens.accessToken, proof: proof)
                #expect(refused.status == .unauthorized && refused.errorBody?.error == .invalidDPoPProof, "\(why): \(refused.text)")
                #expect(refused.headers[.wwwAuthenticate]?.hasPrefix(#"DPoP error="invalid_dpop_proof""#) == true, "\(why)")
            }
        }
    }

    @Test func anUnboundTokenIsABearerTokenOnly() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            #expect(tokens.tokenType == "Bearer" && claim("cnf", of: tokens.accessToken) == nil)
            let key = TestDPoPKey()
            let refused = try await me(
                client, tokens.accessToken, proof: key.proof("GET", Self.issuer + "/v1/me", iat: harness.clock.now(), accessToken: tokens.accessToken))
            #expect(refused.status == .unauthorized && refused.errorBody?.error == .invalidToken, "\(refused.text)")
            #expect(try await client.me(tokens.accessToken).status == .ok)
        }
    }

    @Test func aBoundRefreshTokenIsWorthlessWithoutTheKeyAndCannotEndTheSession() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey(), thief = TestDPoPKey()
            let url = Self.issuer + "/oauth/token"
            let first = try await boundSignIn(client, key, at: harness.clock.now())
            harness.clock.advance(by: 60)
            let rotated = try await refresh(client, first.refreshToken, proof: key.proof("POST", url, iat: harness.clock.now()))
            #expect(rotated.status == .ok, "\(rotated.text)")
            let second = try rotated.decode(TokenResponse.self)
            #expect(second.tokenType == "DPoP" && (claim("cnf", of: second.accessToken) as? [String: String])?["jkt"] == key.thumbprint)
            harness.clock.advance(by: 60)  // past the grace interval: a replay of `first` would revoke an unbound session

            // The thief has both refresh tokens, but not the key: nothing works, nothing changes.
            for token in [first.refreshToken, second.refreshToken] {
                let bare = try await refresh(client, token, proof: nil)
                #expect(bare.status == .badRequest && bare.errorBody?.error == .invalidDPoPProof, "\(bare.text)")
                let stolen = try await refresh(client, token, proof: thief.proof("POST", url, iat: harness.clock.now()))
                #expect(stolen.status == .badRequest && stolen.errorBody?.error == .invalidGrant, "\(stolen.text)")
            }
            // The owner goes on: the session is alive, its access token too.
            #expect(try await me(
                client, second.accessToken, proof: key.proof("GET", Self.issuer + "/v1/me", iat: harness.clock.now(), accessToken: second.accessToken)
            ).status == .ok)
            let third = try await refresh(client, second.refreshToken, proof: key.proof("POST", url, iat: harness.clock.now()))
            #expect(third.status == .ok, "\(third.text)")
            // And the owner's own replay of a spent token still revokes, as for every session.
            let replay = try await refresh(client, first.refreshToken, proof: key.proof("POST", url, iat: harness.clock.now()))
            #expect(replay.status == .badRequest && replay.errorBody?.error == .invalidGrant)
            let after = try await refresh(client, try third.decode(TokenResponse.self).refreshToken, proof: key.proof("POST", url, iat: harness.clock.now()))
            #expect(after.status == .badRequest, "the session was revoked by the replay")
        }
    }

    @Test func aBoundTokenIsRevokedOnlyWithAProofByItsKey() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey(), thief = TestDPoPKey()
            let tokens = try await boundSignIn(client, key, at: harness.clock.now())
            let url = Self.issuer + "/oauth/revoke"
            func revoke(_ token: String, proof: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                if let proof { headers[.dpop] = proof }
                return try await client.execute(uri: "/oauth/revoke", method: .post, headers: headers, body: form(["token": token]))
            }
            for token in [tokens.refreshToken, tokens.accessToken] {
                let bare = try await revoke(token, proof: nil)
                #expect(bare.status == .badRequest && bare.errorBody?.error == .invalidDPoPProof, "\(bare.text)")
                let stolen = try await revoke(token, proof: thief.proof("POST", url, iat: harness.clock.now()))
                #expect(stolen.status == .badRequest && stolen.errorBody?.error == .invalidDPoPProof, "\(stolen.text)")
            }
            let meURL = Self.issuer + "/v1/me"
            #expect(try await me(client, tokens.accessToken, proof: key.proof("GET", meURL, iat: harness.clock.now(), accessToken: tokens.accessToken)).status == .ok,
                    "nothing was revoked")
            #expect(try await revoke(tokens.refreshToken, proof: key.proof("POST", url, iat: harness.clock.now())).status == .ok)
            #expect(try await me(client, tokens.accessToken, proof: key.proof("GET", meURL, iat: harness.clock.now(), accessToken: tokens.accessToken)).status == .unauthorized,
                    "the owner's revocation ended the session")
        }
    }

    @Test func anUnboundSessionRefreshedWithAProofGetsABoundAccessTokenButStaysUnbound() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let signIn = try await client.signIn()
            let bound = try await refresh(client, signIn.refreshToken, proof: key.proof("POST", Self.issuer + "/oauth/token", iat: harness.clock.now()))
            #expect(bound.status == .ok, "\(bound.text)")
            let tokens = try bound.decode(TokenResponse.self)
            #expect(tokens.tokenType == "DPoP" && (claim("cnf", of: tokens.accessToken) as? [String: String])?["jkt"] == key.thumbprint)
            let next = try await client.refreshed(tokens.refreshToken)
            #expect(next.tokenType == "Bearer", "the session itself was not bound by a refresh")
        }
    }

    @Test func aProofIsGoodOnceAndForItsOwnRequest() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let proof = key.proof("POST", Self.issuer + "/v1/auth/device", iat: harness.clock.now())
            #expect(try await deviceSignIn(client, proof: proof).status == .created)
            let replayed = try await deviceSignIn(client, proof: proof)
            #expect(replayed.status == .badRequest && replayed.errorBody?.error == .invalidDPoPProof, "\(replayed.text)")
            #expect(replayed.errorBody?.errorDescription?.contains("presented before") == true)
            // Another request, method or URI; a query is not part of htu.
            for (why, bad) in [
                ("htm", key.proof("GET", Self.issuer + "/v1/auth/device", iat: harness.clock.now())),
                ("htu path", key.proof("POST", Self.issuer + "/oauth/token", iat: harness.clock.now())),
                ("htu host", key.proof("POST", "http://localhost:8080/v1/auth/device", iat: harness.clock.now())),
                ("htu scheme", key.proof("POST", "https://127.0.0.1:8080/v1/auth/device", iat: harness.clock.now())),
            ] {
                let refused = try await deviceSignIn(client, proof: bad)
                #expect(refused.status == .badRequest && refused.errorBody?.error == .invalidDPoPProof, "\(why): \(refused.text)")
            }
            let withQuery = try await deviceSignIn(client, proof: key.proof("POST", Self.issuer + "/v1/auth/device?x=1", iat: harness.clock.now()))
            #expect(withQuery.status == .ok, "\(withQuery.text)")
        }
    }

    @Test func aRefreshsProofIsSpentWithTheRotation() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let tokens = try await boundSignIn(client, key, at: harness.clock.now())
            let proof = key.proof("POST", Self.issuer + "/oauth/token", iat: harness.clock.now())
            let first = try await refresh(client, tokens.refreshToken, proof: proof)
            #expect(first.status == .ok)
            let rotated = try first.decode(TokenResponse.self)
            let copied = try await refresh(client, rotated.refreshToken, proof: proof)
            #expect(copied.status == .badRequest && copied.errorBody?.error == .invalidDPoPProof, "\(copied.text)")
            #expect(copied.errorBody?.errorDescription?.contains("presented before") == true)
            // Nothing rotated: the current token still refreshes with a new proof.
            #expect(try await refresh(client, rotated.refreshToken, proof: key.proof("POST", Self.issuer + "/oauth/token", iat: harness.clock.now())).status == .ok)
        }
    }

    @Test func htuIsTheConfiguredPublicURLNotWhatTheProxyForwardedTo() async throws {
        let harness = Harness { $0.issuer = "https://auth.example.com"; $0.audience = $0.issuer }
        try await harness.withApp(.live) { client, _ in
            let key = TestDPoPKey()
            // The test client calls 127.0.0.1:<port>, as a proxy would; the client made its proof
            // for the public URL.
            let behindProxy = try await deviceSignIn(client, proof: key.proof("POST", "https://auth.example.com/v1/auth/device", iat: harness.clock.now()))
            #expect(behindProxy.status == .created, "\(behindProxy.text)")
            let local = try await deviceSignIn(client, proof: key.proof("POST", "http://127.0.0.1/v1/auth/device", iat: harness.clock.now()))
            #expect(local.status == .badRequest && local.errorBody?.error == .invalidDPoPProof)
        }
    }

    @Test func aSkewedClockIsAskedForANonceAndThenWorks() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let url = Self.issuer + "/v1/auth/device"
            for skew in [-600.0, 3_600, -86_400] {
                let phone = harness.clock.now().addingTimeInterval(skew)
                let first = try await deviceSignIn(client, proof: key.proof("POST", url, iat: phone))
                #expect(first.status == .badRequest && first.errorBody?.error == .useDPoPNonce, "\(skew): \(first.text)")
                let nonce = try #require(first.headers[.dpopNonce])
                let second = try await deviceSignIn(client, proof: key.proof("POST", url, iat: phone, nonce: nonce))
                #expect(second.status == .created || second.status == .ok, "\(skew): \(second.text)")
            }
            // A nonce goes stale; the answer is use_dpop_nonce (not invalid_dpop_proof) with a new one.
            let old = try #require(try await deviceSignIn(client, proof: key.proof("POST", url, iat: harness.clock.now())).headers[.dpopNonce])
            harness.clock.advance(by: 601)
            let stale = try await deviceSignIn(client, proof: key.proof("POST", url, iat: harness.clock.now(), nonce: old))
            #expect(stale.status == .badRequest && stale.errorBody?.error == .useDPoPNonce, "\(stale.text)")
            #expect(stale.headers[.dpopNonce] != nil && stale.headers[.dpopNonce] != old)
            let forged = try await deviceSignIn(client, proof: key.proof("POST", url, iat: harness.clock.now(), nonce: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
            #expect(forged.errorBody?.error == .useDPoPNonce)
        }
    }

    @Test func aResourceAsksForANonceWithA401() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let tokens = try await boundSignIn(client, key, at: harness.clock.now())
            let url = Self.issuer + "/v1/me"
            let skewed = try await me(client, tokens.accessToken, proof: key.proof("GET", url, iat: harness.clock.now().addingTimeInterval(-900), accessToken: tokens.accessToken))
            #expect(skewed.status == .unauthorized && skewed.errorBody?.error == .useDPoPNonce, "\(skewed.text)")
            #expect(skewed.headers[.wwwAuthenticate]?.hasPrefix(#"DPoP error="use_dpop_nonce""#) == true)
            let nonce = try #require(skewed.headers[.dpopNonce])
            let ok = try await me(client, tokens.accessToken, proof: key.proof("GET", url, iat: harness.clock.now().addingTimeInterval(-900), accessToken: tokens.accessToken, nonce: nonce))
            #expect(ok.status == .ok, "\(ok.text)")
        }
    }

    @Test func requiredModeRefusesADeviceSignInWithoutAProof() async throws {
        let harness = Harness { $0.dpop.requiredForDeviceSignIn = true }
        try await harness.withApp { client, _ in
            let refused = try await deviceSignIn(client, proof: nil)
            #expect(refused.status == .badRequest && refused.errorBody?.error == .invalidDPoPProof, "\(refused.text)")
            let key = TestDPoPKey()
            #expect(try await boundSignIn(client, key, at: harness.clock.now()).tokenType == "DPoP")
        }
    }

    @Test func nonceAlwaysModeWantsANonceInEveryProof() async throws {
        let harness = Harness { $0.dpop.nonceAlways = true }
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let url = Self.issuer + "/v1/auth/device"
            let first = try await deviceSignIn(client, proof: key.proof("POST", url, iat: harness.clock.now()))
            #expect(first.errorBody?.error == .useDPoPNonce, "\(first.text)")
            let nonce = try #require(first.headers[.dpopNonce])
            #expect(try await deviceSignIn(client, proof: key.proof("POST", url, iat: harness.clock.now(), nonce: nonce)).status == .created)
        }
    }

    @Test func hostileProofsAre4xxWithoutEchoingThem() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let (x, y) = key.coordinates
            let d = TestDPoPKey.base64url(key.privateKey.rawRepresentation)
            let url = Self.issuer + "/v1/auth/device"
            let privateJWK = key.proof("POST", url, iat: harness.clock.now(), jwk: #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","d":"\#(d)"}"#)
            for proof in [privateJWK, "", "a.b.c", String(repeating: "x", count: 10_000), key.proof("POST", url, iat: harness.clock.now(), alg: "none")] {
                let refused = try await deviceSignIn(client, proof: proof)
                #expect(refused.status == .badRequest && refused.errorBody?.error == .invalidDPoPProof, "\(refused.text.prefix(200))")
                #expect(proof.isEmpty || !refused.text.contains(proof.prefix(40)))
            }
            var headers: HTTPFields = [.contentType: "application/json"]
            headers.append(HTTPField(name: .dpop, value: key.proof("POST", url, iat: harness.clock.now())))
            headers.append(HTTPField(name: .dpop, value: key.proof("POST", url, iat: harness.clock.now())))
            let twice = try await client.execute(uri: "/v1/auth/device", method: .post, headers: headers, body: deviceBody())
            #expect(twice.status == .badRequest && twice.errorBody?.error == .invalidDPoPProof)
            #expect(!harness.logs.all.contains { $0.contains(d) || $0.contains(privateJWK.prefix(60)) }, "no proof and no key in the logs")
        }
    }

    @Test func aBoundSessionCannotBecomeACookieSession() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let tokens = try await boundSignIn(client, key, at: harness.clock.now())
            let refused = try await client.execute(
                uri: "/v1/session", method: .post,
                headers: [.authorization: "DPoP \(tokens.accessToken)",
                          .dpop: key.proof("POST", Self.issuer + "/v1/session", iat: harness.clock.now(), accessToken: tokens.accessToken)])
            #expect(refused.status == .badRequest && refused.headers[.setCookie] == nil, "\(refused.text)")
        }
    }

    @Test func introspectionSaysWhichKeyATokenIsBoundTo() async throws {
        let harness = Harness { $0.introspectionClients = [apiClient] }
        try await harness.withApp { client, _ in
            let key = TestDPoPKey()
            let tokens = try await boundSignIn(client, key, at: harness.clock.now())
            for token in [tokens.accessToken, tokens.refreshToken] {
                let answer = try await client.introspect(token).decode(IntrospectionResponse.self)
                #expect(answer.active && answer.cnf?.jkt == key.thumbprint)
            }
            let plain = try await client.signIn("device-0002")
            #expect(try await client.introspect(plain.accessToken).decode(IntrospectionResponse.self).cnf == nil)
        }
    }

    @Test func aTokenExchangeWithAProofOpensABoundSession() async throws {
        let secret = "0123456789abcdef0123456789abcdef"
        let providers = #"{"line": {"audiences": ["1234567890"], "jwks_url": "http://127.0.0.1:9/jwks.json", "channel_secret": "\#(secret)"}}"#
        let loaded = try TegataConfiguration.load(file: nil, environment: ["TEGATA_PROVIDERS": providers])
        let harness = Harness { $0.providers = loaded.providers }
        try await harness.withApp { client, _ in
            let input = try TestDPoPKey.base64url(JSONSerialization.data(withJSONObject: ["alg": "HS256", "typ": "JWT"])) + "."
                + TestDPoPKey.base64url(JSONSerialization.data(withJSONObject: ProviderClaims.line(now: harness.clock.now())))
            let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            let idToken = input + "." + TestDPoPKey.base64url(Data(mac))
            let key = TestDPoPKey()
            let url = Self.issuer + "/oauth/token"
            let answer = try await client.execute(
                uri: "/oauth/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .dpop: key.proof("POST", url, iat: harness.clock.now())],
                body: form(["grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": idToken,
                            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "provider": "line"]))
            #expect(answer.status == .ok, "\(answer.text)")
            let tokens = try answer.decode(TokenResponse.self)
            #expect(tokens.tokenType == "DPoP" && (claim("cnf", of: tokens.accessToken) as? [String: String])?["jkt"] == key.thumbprint)
            let bare = try await refresh(client, tokens.refreshToken, proof: nil)
            #expect(bare.errorBody?.error == .invalidDPoPProof, "the exchanged session is bound: \(bare.text)")
        }
    }

    @Test func discoveryListsTheProofAlgorithms() async throws {
        try await Harness().withApp { client, _ in
            let response = try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get)
            let document = try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any]
            #expect(document?["dpop_signing_alg_values_supported"] as? [String] == ["ES256"])
        }
    }

    @Test func aProofUsedAtOneReplicaIsRefusedAtAnotherAndNoncesAreShared() async throws {
        let harness = Harness()
        let one = try await harness.services(), two = try await harness.services()
        let key = TestDPoPKey()
        let url = Self.issuer + "/v1/auth/device"
        let proof = key.proof("POST", url, iat: harness.clock.now())
        let nonce = try await buildApplication(services: one).test(.router) { client in
            let response = try await deviceSignIn(client, proof: proof)
            #expect(response.status == .created)
            return try #require(response.headers[.dpopNonce])
        }
        try await buildApplication(services: two).test(.router) { client in
            let replayed = try await deviceSignIn(client, proof: proof)
            #expect(replayed.errorBody?.error == .invalidDPoPProof, "\(replayed.text)")
            let skewed = try await deviceSignIn(client, proof: key.proof("POST", url, iat: harness.clock.now().addingTimeInterval(-3_600), nonce: nonce))
            #expect(skewed.status == .ok, "the other replica's nonce is accepted: \(skewed.text)")
        }
    }
}
