import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTokens
import TegataWire
import Testing

@Suite struct AccessTokenTests {
    @Test func theAccessTokenIsRFC9068AndVerifiesIndependentlyAgainstTheServedJWKS() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { Data($0.text.utf8) }
            let claims = try independentlyVerify(tokens.accessToken, jwksJSON: jwks)
            let header = try #require(claims["__header"] as? [String: Any])
            #expect(header["typ"] as? String == "at+jwt" && header["alg"] as? String == "ES256" && header["kid"] is String)
            #expect(claims["iss"] as? String == "http://127.0.0.1:8080")
            #expect(claims["aud"] as? String == "http://127.0.0.1:8080")
            #expect(claims["sub"] as? String == tokens.user.id)
            #expect(claims["iat"] as? Int == 1_800_000_000 && claims["nbf"] as? Int == 1_800_000_000 && claims["exp"] as? Int == 1_800_000_900)
            #expect(claims["jti"] is String && claims["sid"] is String && claims["client_id"] as? String == "tegata")
            #expect(claims["amr"] as? [String] == ["device"] && claims["anon"] as? Bool == true && claims["tv"] as? Int == 0)
            #expect(claims["ent"] == nil, "omitted when the user has none")
            let payloadSize = tokens.accessToken.split(separator: ".")[1].utf8.count * 3 / 4
            #expect(payloadSize < 1024)
        }
    }

    @Test func meReturnsTheUser() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            let response = try await client.me(tokens.accessToken)
            #expect(response.status == .ok)
            let me = try response.decode(MeResponse.self)
            #expect(me.id == tokens.user.id && me.anon && me.identities.isEmpty && me.ent.isEmpty)
            #expect(me.createdAt == tokens.user.createdAt)
        }
    }

    @Test func aMissingTokenGetsTheBareChallenge() async throws {
        try await Harness().withApp { client, _ in
            try await client.execute(uri: "/v1/me", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tegata""#)
                #expect(response.errorBody?.error == .invalidToken)
            }
        }
    }

    @Test func aBadTokenGetsInvalidTokenInTheChallenge() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            var tampered = Array(tokens.accessToken)
            tampered[tampered.count - 5] = tampered[tampered.count - 5] == "A" ? "B" : "A"
            // The scheme is case-insensitive and whitespace around the token is optional whitespace.
            for header in ["bearer \(tokens.accessToken)", "Bearer  \t\(tokens.accessToken)\t "] {
                try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: header]) { response in
                    #expect(response.status == .ok)
                }
            }
            for header in ["Bearer garbage", "Bearer \(String(tampered))", "Basic dXNlcjpwYXNz", "Bearer", "bearer  ",
                           "Bearer " + String(repeating: "a", count: 10_000), "Bearer \(tokens.accessToken)x",
                           "Bearer é\(tokens.accessToken)漢", "Bearer \(tokens.accessToken) \(tokens.accessToken)"] {
                try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: header]) { response in
                    #expect(response.status == .unauthorized, "\(header.prefix(20))")
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix(#"Bearer error="invalid_token""#) == true)
                    #expect(response.errorBody?.error == .invalidToken)
                }
            }
        }
    }

    @Test func aTokenInTheQueryStringIsNotAccepted() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            try await client.execute(uri: "/v1/me?access_token=\(tokens.accessToken)", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tegata""#)
            }
        }
    }

    @Test func expiryUsesTheInjectedClockAndTheLeeway() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            harness.clock.advance(by: 900 + 29)
            #expect(try await client.me(tokens.accessToken).status == .ok, "within the 30 s leeway")
            harness.clock.advance(by: 1)
            let expired = try await client.me(tokens.accessToken)
            #expect(expired.status == .unauthorized)
            #expect(expired.errorBody?.errorDescription == "the access token has expired")
        }
    }

    @Test func aTokenIsRefusedTheMomentItsSessionEnds() async throws {
        // Idle lifetime shorter than the token's: the session check, not `exp`, must refuse it.
        let harness = Harness { $0.refreshIdleTTL = 60; $0.refreshAbsoluteTTL = 120 }
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            harness.clock.advance(by: 59)
            #expect(try await client.me(tokens.accessToken).status == .ok)
            harness.clock.advance(by: 1)
            let response = try await client.me(tokens.accessToken)
            #expect(response.status == .unauthorized)
            #expect(response.errorBody?.errorDescription == "the session of this access token has ended")
        }
    }

    @Test func revokedSessionsMovedTokenVersionsAndDeletedUsersKillTokensAtOnce() async throws {
        let harness = Harness()
        try await harness.withApp { client, services in
            let a = try await client.signIn("device-aaaa")
            let b = try await client.signIn("device-bbbb")
            let c = try await client.signIn("device-cccc")
            // Each change goes straight to the store (not through an endpoint that would also answer
            // for it): the access-token check must see the stored state at once.
            let now = harness.clock.now(), until = now.addingTimeInterval(900)
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { Data($0.text.utf8) }
            let sidA = try independentlyVerify(a.accessToken, jwksJSON: jwks)["sid"] as! String
            let sidB = try independentlyVerify(b.accessToken, jwksJSON: jwks)["sid"] as! String
            #expect(try await services.store.revokeSession(id: sidA, ownedBy: nil, devices: .none, now: now, eventUntil: until))
            // B's session stays live; only its user's token version moves.
            try await services.store.revokeSessions(userID: b.user.id, except: sidB, bumpTokenVersion: true, devices: .none, now: now, eventUntil: until)
            #expect(try await services.store.session(id: sidB)?.revokedAt == nil)
            #expect(try await services.store.deleteUser(id: c.user.id, now: now, eventUntil: until))
            for tokens in [a, b, c] {
                #expect(try await client.me(tokens.accessToken).status == .unauthorized)
            }
            // Other users' tokens are unaffected.
            let d = try await client.signIn("device-dddd")
            #expect(try await client.me(d.accessToken).status == .ok)
            // After deletion the device registers a new, empty user.
            let again = try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody("device-cccc")) { response in
                #expect(response.status == .created)
                return try response.decode(TokenResponse.self)
            }
            #expect(again.user.id != c.user.id)
        }
    }

    @Test func tokensFromAnotherIssuerOrAudienceAreRefused() async throws {
        // Same key, same database, different issuer: a token minted for one deployment is not valid at another.
        let first = Harness()
        let tokens = try await first.withApp { client, _ in try await client.signIn() }
        var other = first
        other.configuration.issuer = "https://other.example"
        other.configuration.audience = "https://other.example"
        try await other.withApp { client, _ in
            let response = try await client.me(tokens.accessToken)
            #expect(response.status == .unauthorized)
            #expect(response.errorBody?.errorDescription == "the access token was issued by another issuer")
        }
        var audience = first
        audience.configuration.audience = "https://api.example"
        try await audience.withApp { client, _ in
            let response = try await client.me(tokens.accessToken)
            #expect(response.errorBody?.errorDescription == "the access token is for another audience")
        }
    }
}
