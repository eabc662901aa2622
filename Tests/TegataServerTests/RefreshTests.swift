import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataWire
import Testing

@Suite struct RefreshTests {
    @Test func aRefreshRotatesAndTheNewTokenWorks() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let signIn = try await client.signIn()
            harness.clock.advance(by: 60)
            let response = try await client.refresh(signIn.refreshToken)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let first = try response.decode(TokenResponse.self)
            #expect(first.refreshToken != signIn.refreshToken && first.accessToken != signIn.accessToken)
            #expect(first.user == signIn.user && first.refreshExpiresIn == 30 * 86_400)
            #expect(sid(of: first.accessToken) == sid(of: signIn.accessToken), "same session")
            #expect(claim("iat", of: first.accessToken) as? Int == 1_800_000_060)
            // Access tokens of a session that did not end keep working.
            #expect(try await client.me(signIn.accessToken).status == .ok)
            #expect(try await client.me(first.accessToken).status == .ok)
            harness.clock.advance(by: 60)
            let second = try await client.refreshed(first.refreshToken)
            #expect(second.refreshToken != first.refreshToken)
        }
    }

    @Test func jsonBodiesWorkLikeForms() async throws {
        try await Harness().withApp { client, _ in
            let signIn = try await client.signIn()
            try await client.execute(uri: "/oauth/token", method: .post, headers: [.contentType: "application/json"],
                                     body: json(["grant_type": "refresh_token", "refresh_token": signIn.refreshToken, "extra": 1])) {
                #expect($0.status == .ok, "\($0.text)")
            }
        }
    }

    @Test func thePrecedingTokenWithinGraceConvergesOnTheCurrentOne() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let signIn = try await client.signIn()
            let tabA = try await client.refreshed(signIn.refreshToken)
            harness.clock.advance(by: 9)
            let tabB = try await client.refreshed(signIn.refreshToken)
            #expect(tabB.refreshToken == tabA.refreshToken, "the session's current refresh token")
            #expect(tabB.accessToken != tabA.accessToken, "a fresh access token")
            // Both tabs now hold the current token; the session goes on.
            let next = try await client.refreshed(tabB.refreshToken)
            #expect(try await client.me(next.accessToken).status == .ok)
        }
    }

    @Test func reuseAfterGraceRevokesTheWholeSession() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let signIn = try await client.signIn()
            let other = try await client.signIn()  // another session of the same user
            let rotated = try await client.refreshed(signIn.refreshToken)
            harness.clock.advance(by: 10)
            let replay = try await client.refresh(signIn.refreshToken)
            #expect(replay.status == .badRequest)
            #expect(replay.errorBody?.error == .invalidGrant)
            // The family is dead: the current refresh token and every access token of the session.
            #expect(try await client.refresh(rotated.refreshToken).errorBody?.error == .invalidGrant)
            #expect(try await client.me(rotated.accessToken).status == .unauthorized)
            #expect(try await client.me(signIn.accessToken).status == .unauthorized)
            // Other sessions are untouched.
            #expect(try await client.me(other.accessToken).status == .ok)
            _ = try await client.refreshed(other.refreshToken)
        }
    }

    @Test func anOlderGenerationRevokesEvenWithinGrace() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let g0 = try await client.signIn()
            let g1 = try await client.refreshed(g0.refreshToken)
            let g2 = try await client.refreshed(g1.refreshToken)
            #expect(try await client.refresh(g0.refreshToken).status == .badRequest)
            #expect(try await client.refresh(g2.refreshToken).status == .badRequest)
        }
    }

    @Test func aZeroGraceMakesEveryReuseAReplay() async throws {
        try await Harness { $0.refreshReuseGrace = 0 }.withApp { client, _ in
            let signIn = try await client.signIn()
            let rotated = try await client.refreshed(signIn.refreshToken)
            #expect(try await client.refresh(signIn.refreshToken).status == .badRequest)
            #expect(try await client.refresh(rotated.refreshToken).status == .badRequest)
        }
    }

    @Test func idleAndAbsoluteLifetimesEndSessions() async throws {
        let harness = Harness { $0.refreshIdleTTL = 600; $0.refreshAbsoluteTTL = 1_000 }
        try await harness.withApp { client, _ in
            let a = try await client.signIn("device-aaaa")
            harness.clock.advance(by: 599)
            let a1 = try await client.refreshed(a.refreshToken)
            #expect(a1.refreshExpiresIn == 401, "the idle end is capped by the absolute end")
            harness.clock.advance(by: 401)
            let late = try await client.refresh(a1.refreshToken)
            #expect(late.errorBody?.errorDescription == "the session reached its maximum lifetime")

            let b = try await client.signIn("device-bbbb")
            harness.clock.advance(by: 600)
            let idle = try await client.refresh(b.refreshToken)
            #expect(idle.status == .badRequest)
            #expect(idle.errorBody?.errorDescription == "the session expired after a period without use")
        }
    }

    @Test func badRequestsToTheTokenEndpoint() async throws {
        try await Harness().withApp { client, _ in
            let signIn = try await client.signIn()
            let cases: [(String?, ByteBuffer, String)] = [
                ("application/x-www-form-urlencoded", form(["refresh_token": signIn.refreshToken]), "invalid_request"),
                ("application/x-www-form-urlencoded", form(["grant_type": "refresh_token"]), "invalid_request"),
                ("application/x-www-form-urlencoded", form(["grant_type": "password", "username": "x"]), "unsupported_grant_type"),
                ("application/x-www-form-urlencoded", form(["grant_type": "refresh_token", "refresh_token": "garbage"]), "invalid_grant"),
                ("application/x-www-form-urlencoded", form(["grant_type": "refresh_token", "refresh_token": String(repeating: "A", count: 76)]), "invalid_grant"),
                ("application/x-www-form-urlencoded", ByteBuffer(string: "grant_type=refresh_token&grant_type=refresh_token&refresh_token=\(signIn.refreshToken)"), "invalid_request"),
                ("application/x-www-form-urlencoded", ByteBuffer(string: "grant_type=%zz"), "invalid_request"),
                ("application/x-www-form-urlencoded", ByteBuffer(bytes: [0x67, 0x3d, 0xff, 0xfe]), "invalid_request"),
                ("application/json", ByteBuffer(string: #"{"grant_type": "refresh_token", "refresh_token": 12}"#), "invalid_request"),
                ("application/json", ByteBuffer(string: "[1,2]"), "invalid_request"),
                ("application/json", ByteBuffer(string: "{broken"), "invalid_request"),
                (nil, ByteBuffer(), "invalid_request"),
            ]
            for (contentType, body, code) in cases {
                var headers: HTTPFields = [:]
                if let contentType { headers[.contentType] = contentType }
                try await client.execute(uri: "/oauth/token", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .badRequest, "\(String(buffer: body).prefix(60)): \(response.text)")
                    #expect(response.errorBody?.error.rawValue == code, "\(String(buffer: body).prefix(60)): \(response.text)")
                    #expect(!response.text.contains(signIn.refreshToken))
                }
            }
            // None of that harmed the session.
            _ = try await client.refreshed(signIn.refreshToken)
        }
    }

    @Test func aDeletedUsersRefreshTokenIsInvalid() async throws {
        try await Harness().withApp { client, _ in
            let signIn = try await client.signIn()
            #expect(try await client.authorized("/v1/me", .delete, token: signIn.accessToken).status == .noContent)
            #expect(try await client.refresh(signIn.refreshToken).errorBody?.error == .invalidGrant)
        }
    }
}
