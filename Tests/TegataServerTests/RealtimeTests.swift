import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataServer
import TegataWire
import Testing

let centrifugoSecret = "centrifugo-hmac-secret-0123456789-abcdef"

/// Splits a compact JWS and checks an HS256 signature with swift-crypto directly, as Centrifugo would.
func verifyHS256(_ token: String, secret: String) throws -> (header: [String: Any], claims: [String: Any]) {
    func decode(_ part: Substring) throws -> Data {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return try #require(Data(base64Encoded: text))
    }
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    try #require(parts.count == 3)
    let mac = HMAC<SHA256>.authenticationCode(for: Data("\(parts[0]).\(parts[1])".utf8), using: SymmetricKey(data: Data(secret.utf8)))
    #expect(Data(mac) == (try decode(parts[2])), "the HS256 signature verifies with the shared secret")
    let header = try #require(try JSONSerialization.jsonObject(with: try decode(parts[0])) as? [String: Any])
    let claims = try #require(try JSONSerialization.jsonObject(with: try decode(parts[1])) as? [String: Any])
    return (header, claims)
}

extension TestClientProtocol {
    func realtime(_ uri: String, token: String, channel: String? = nil) async throws -> TestResponse {
        try await execute(
            uri: uri, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: channel.map { json(["channel": $0]) })
    }
}

@Suite struct RealtimeTests {
    let now = 1_800_000_000

    @Test func anHMACConnectionTokenHasCentrifugosClaims() async throws {
        try await Harness { $0.realtimeSigning = .hmac(secret: centrifugoSecret) }.withApp { client, _ in
            let tokens = try await client.signIn()
            let response = try await client.realtime("/v1/realtime/token", token: tokens.accessToken)
            #expect(response.status == .ok && response.headers[.cacheControl] == "no-store", "\(response.text)")
            let issued = try response.decode(RealtimeTokenResponse.self)
            #expect(issued.expiresIn == 600)
            let (header, claims) = try verifyHS256(issued.token, secret: centrifugoSecret)
            #expect(header["alg"] as? String == "HS256" && header["typ"] as? String == "JWT")
            #expect(claims["sub"] as? String == tokens.user.id)
            #expect(claims["iat"] as? Int == now && claims["exp"] as? Int == now + 600)
            let info = try #require(claims["info"] as? [String: Any])
            #expect(info["id"] as? String == tokens.user.id && info["anon"] as? Bool == true && info["created_at"] as? String == "2027-01-15T08:00:00Z")
            #expect(Set(claims.keys) == ["sub", "iat", "exp", "info"])
            // A realtime token is not an access token.
            #expect(try await client.me(issued.token).status == .unauthorized)
        }
    }

    @Test func anES256TokenVerifiesFromTheJWKSButIsNeverAnAccessToken() async throws {
        try await Harness { $0.realtimeSigning = .es256; $0.realtimeTokenTTL = 120 }.withApp { client, _ in
            let tokens = try await client.signIn()
            let issued = try await client.realtime("/v1/realtime/token", token: tokens.accessToken).decode(RealtimeTokenResponse.self)
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { Data($0.text.utf8) }
            let claims = try independentlyVerify(issued.token, jwksJSON: jwks)
            #expect((claims["__header"] as? [String: Any])?["typ"] as? String == "JWT")
            #expect(claims["sub"] as? String == tokens.user.id && claims["exp"] as? Int == now + 120 && issued.expiresIn == 120)
            let me = try await client.me(issued.token)
            #expect(me.status == .unauthorized && me.errorBody?.errorDescription?.contains("typ") == true)
        }
    }

    @Test func subscriptionTokensFollowTheChannelPolicy() async throws {
        try await Harness { $0.realtimeSigning = .hmac(secret: centrifugoSecret); $0.realtimeNamespaces = ["chat", "scores"] }.withApp { client, _ in
            let tokens = try await client.signIn()
            let user = tokens.user.id
            for channel in ["chat:lobby", "scores:game-42", "chat:inbox#\(user)"] {
                let response = try await client.realtime("/v1/realtime/subscription-token", token: tokens.accessToken, channel: channel)
                #expect(response.status == .ok, "\(channel): \(response.text)")
                let (_, claims) = try verifyHS256(try response.decode(RealtimeTokenResponse.self).token, secret: centrifugoSecret)
                #expect(claims["sub"] as? String == user && claims["channel"] as? String == channel && claims["exp"] as? Int == now + 600)
            }
            for channel in ["news:today", "lobby", "chat:inbox#someone-else", "chat:inbox#\(user),someone-else", "chat:inbox#"] {
                let response = try await client.realtime("/v1/realtime/subscription-token", token: tokens.accessToken, channel: channel)
                #expect(response.status == .forbidden && response.errorBody?.error == .forbidden, "\(channel)")
            }
            for body in [json(["channel": ""]), json(["channel": "chat:with space"]), json(["channel": String(repeating: "c", count: 256)]),
                         json(["channel": 7]), json([:]), ByteBuffer(string: "{")] {
                let response = try await client.execute(uri: "/v1/realtime/subscription-token", method: .post,
                                                        headers: [.authorization: "Bearer \(tokens.accessToken)", .contentType: "application/json"], body: body)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(response.text)")
            }
            #expect(try await client.realtime("/v1/realtime/subscription-token", token: "garbage", channel: "chat:lobby").status == .unauthorized)
        }
    }

    @Test func realtimeIs404UntilConfigured() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            #expect(try await client.realtime("/v1/realtime/token", token: tokens.accessToken).status == .notFound)
            #expect(try await client.realtime("/v1/realtime/subscription-token", token: tokens.accessToken, channel: "chat:x").status == .notFound)
        }
    }
}
