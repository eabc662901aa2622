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

@Suite struct DeviceSignInTests {
    @Test func registersWith201ThenSignsInWith200AsTheSameUser() async throws {
        try await Harness().withApp { client, _ in
            let first = try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody()) { response in
                #expect(response.status == .created)
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.contentType] == "application/json")
                return try response.decode(TokenResponse.self)
            }
            #expect(first.tokenType == "Bearer" && first.expiresIn == 900 && first.refreshExpiresIn == 30 * 86_400)
            #expect(first.user.anon)
            #expect(first.refreshToken.utf8.count >= 43, "at least 256 bits")
            let second = try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody()) { response in
                #expect(response.status == .ok)
                return try response.decode(TokenResponse.self)
            }
            #expect(second.user == first.user)
            #expect(second.refreshToken != first.refreshToken, "a new session")
            #expect(second.accessToken != first.accessToken)
        }
    }

    @Test func theResponseIsTheContractsJSONShape() async throws {
        try await Harness().withApp { client, _ in
            try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody()) { response in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
                #expect(Set(object.keys) == ["access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in", "user"])
                let user = try #require(object["user"] as? [String: Any])
                #expect(Set(user.keys) == ["id", "anon", "created_at"])
                #expect(user["created_at"] as? String == "2027-01-15T08:00:00Z", "RFC 3339 from the injected clock")
            }
        }
    }

    @Test func aWrongSecretIs401InvalidGrantAndLeaksNothing() async throws {
        let harness = Harness()
        let wrong = "WRONG-secret-0123456789abcdef0123456789"
        try await harness.withApp { client, _ in
            _ = try await client.signIn()
            try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody(secret: wrong)) { response in
                #expect(response.status == .unauthorized)
                #expect(response.errorBody?.error == .invalidGrant)
                #expect(!response.text.contains(wrong) && !response.text.contains(validSecret))
            }
            // The registered secret still works: a failed attempt changed nothing.
            _ = try await client.signIn()
        }
        #expect(!harness.logs.all.contains { $0.contains(wrong) || $0.contains(validSecret) })
    }

    @Test func invalidIdSecretOrPlatformIs400NamingTheField() async throws {
        try await Harness().withApp { client, _ in
            let cases: [(ByteBuffer, String)] = [
                (deviceBody("short"), "device_id"),
                (deviceBody("bad id with spaces"), "device_id"),
                (deviceBody(String(repeating: "x", count: 129)), "device_id"),
                (deviceBody(secret: "too-short"), "device_secret"),
                (deviceBody(secret: String(repeating: "s", count: 257)), "device_secret"),
                // Printable ASCII only, as openapi.yaml's pattern says.
                (deviceBody(secret: String(repeating: "é", count: 40)), "device_secret"),
                (deviceBody(secret: validSecret + "\u{7F}"), "device_secret"),
                (deviceBody(platform: "Windows Phone"), "platform"),
                (deviceBody(platform: ""), "platform"),
            ]
            for (body, field) in cases {
                try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: body) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.errorBody?.error == .invalidRequest)
                    #expect(response.errorBody?.errorDescription?.contains(field) == true, "\(response.text)")
                }
            }
        }
    }

    @Test func unknownFieldsAreIgnored() async throws {
        try await Harness().withApp { client, _ in
            let body = json(["device_id": "device-0001", "device_secret": validSecret, "platform": "android",
                             "future_field": ["nested": true], "locale": "ja-JP"])
            try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: body) { #expect($0.status == .created) }
        }
    }

    @Test func tokensAreNeverLogged() async throws {
        let harness = Harness()
        let tokens = try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            _ = try await client.me(tokens.accessToken)
            _ = try await client.me(tokens.accessToken + "x")
            return tokens
        }
        let logs = harness.logs.all
        #expect(!logs.isEmpty)
        for line in logs {
            #expect(!line.contains(tokens.accessToken.prefix(40)) && !line.contains(tokens.refreshToken) && !line.contains(validSecret))
        }
    }
}
