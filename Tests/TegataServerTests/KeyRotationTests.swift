import Crypto
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

/// `POST /admin/v1/keys/rotate` and the admin API's gate.
@Suite struct KeyRotationTests {
    static let adminKey = "admin-key-0123456789abcdef0123456789abcdef"

    private func rotate(_ client: any TestClientProtocol, body: String? = nil, key: String? = adminKey) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(
            uri: "/admin/v1/keys/rotate", method: .post, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    private func kid(of token: String) throws -> String {
        let header = try #require(Base64URL.decode(String(token.split(separator: ".")[0])))
        return try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])["kid"] as! String
    }

    private func publishedKids(_ client: any TestClientProtocol) async throws -> [String] {
        try await client.execute(uri: "/.well-known/jwks.json", method: .get) { try $0.decode(JWKSDocument.self).keys.map(\.kid) }
    }

    typealias Rotation = KeyRotationResponse

    @Test func theAdminAPIIsOffWithoutAKeyAndRefusesAWrongOne() async throws {
        try await Harness().withApp { client, _ in
            let response = try await rotate(client)
            #expect(response.status == .notFound)
            #expect(response.errorBody?.error == .notFound)
        }
        let harness = Harness { $0.adminAPIKey = Self.adminKey }
        try await harness.withApp { client, services in
            let before = services.keyRing.currentKeyID
            let missing = try await rotate(client, key: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == #"Bearer realm="tegata""#)
            let wrong = try await rotate(client, key: Self.adminKey + "x")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.errorBody?.error == .invalidToken)
            // A user's access token is not the admin key.
            let user = try await client.signIn()
            #expect(try await rotate(client, key: user.accessToken).status == .unauthorized)
            #expect(try await rotate(client, body: #"{"immediate": "yes"}"#).status == .badRequest)
            #expect(try await rotate(client, body: "{").status == .badRequest)
            #expect(services.keyRing.currentKeyID == before, "nothing rotated")
            #expect(try await publishedKids(client) == [before.rawValue])
        }
        #expect(!harness.logs.all.contains { $0.contains(Self.adminKey) }, "the admin key is never logged")
    }

    @Test func aRotationPublishesTheNewKeyFirstAndSignsWithItAfterTheJWKSCacheLifetime() async throws {
        let harness = Harness {
            $0.adminAPIKey = Self.adminKey
            $0.jwksMaxAge = 120
            $0.accessTokenTTL = 600
            $0.clockLeeway = 30
        }
        try await harness.withApp { client, services in
            let old = services.keyRing.currentKeyID.rawValue
            let before = try await client.signIn()
            let response = try await rotate(client)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[.cacheControl] == "no-store")
            let rotation = try response.decode(Rotation.self)
            #expect(rotation.signsFrom == harness.clock.now().addingTimeInterval(120))
            #expect(rotation.publishedKids == [old, rotation.kid])
            #expect(try await publishedKids(client) == [old, rotation.kid], "published at once, before it signs")
            #expect(try kid(of: try await client.signIn().accessToken) == old, "the old key signs during the cache lifetime")

            harness.clock.advance(by: 120)
            let after = try await client.signIn()
            #expect(try kid(of: after.accessToken) == rotation.kid)
            #expect(try await publishedKids(client) == [rotation.kid, old])
            #expect(try await client.me(before.accessToken).status == .ok, "tokens of the old key still work")
            #expect(try await client.me(after.accessToken).status == .ok)

            // The old key stopped signing at +120; its last tokens expire 600 s later, plus leeway.
            harness.clock.advance(by: 629)
            #expect(try await publishedKids(client) == [rotation.kid, old])
            harness.clock.advance(by: 1)
            #expect(try await publishedKids(client) == [rotation.kid], "retired once every token it signed has expired")
        }
        #expect(harness.logs.all.contains { $0.contains("signing key rotated") })
    }

    @Test func anImmediateRotationSignsAtOnceAndTheScheduleSurvivesARestart() async throws {
        let harness = Harness { $0.adminAPIKey = Self.adminKey }
        let (old, new) = try await harness.withApp { client, services in
            let old = services.keyRing.currentKeyID.rawValue
            let rotation = try await rotate(client, body: #"{"immediate": true}"#).decode(Rotation.self)
            #expect(rotation.signsFrom == harness.clock.now())
            #expect(try kid(of: try await client.signIn().accessToken) == rotation.kid)
            #expect(try await publishedKids(client) == [rotation.kid, old])
            return (old, rotation.kid)
        }
        try await harness.withApp { client, services in
            let kids = try await publishedKids(client)
            #expect(services.keyRing.currentKeyID.rawValue == new)
            #expect(kids == [new, old])
        }
    }

    @Test func aSecondRotationReplacesAKeyStillWaitingAndDeletesRetiredOnes() async throws {
        let harness = Harness { $0.adminAPIKey = Self.adminKey }
        try await harness.withApp { client, services in
            let first = services.keyRing.currentKeyID.rawValue
            let waiting = try await rotate(client).decode(Rotation.self)
            let replacing = try await rotate(client, body: #"{"immediate": true}"#).decode(Rotation.self)
            #expect(try await publishedKids(client) == [replacing.kid, first], "the key that never signed is gone")
            let stored = try await services.store.signingKeys().map(\.keyID)
            #expect(!stored.contains(waiting.kid))
            // Long after: the first key is retired; the next rotation deletes it from the store.
            harness.clock.advance(by: 86_400)
            let third = try await rotate(client, body: #"{"immediate": true}"#).decode(Rotation.self)
            #expect(try await services.store.signingKeys().map(\.keyID) == [third.kid, replacing.kid])
        }
    }

    @Test func anOperatorKeyFileIsNotRotatedThroughTheAPI() async throws {
        let harness = Harness { $0.adminAPIKey = Self.adminKey }
        let pem = SigningKey.generate().privateKey.pemRepresentation
        let file = (harness.directory as NSString).appendingPathComponent("signing.pem")
        try FileManager.default.createDirectory(atPath: harness.directory, withIntermediateDirectories: true)
        try pem.write(toFile: file, atomically: true, encoding: .utf8)
        var configured = harness
        configured.configuration.signingKeyFile = file
        try await configured.withApp { client, _ in
            let response = try await rotate(client)
            #expect(response.status == .conflict)
            #expect(response.errorBody?.errorDescription?.contains("TEGATA_SIGNING_KEY_FILE") == true)
        }
    }

    /// The operator's rotation of a key file: publish the new key beside the old, let it sign, drop
    /// the old one — each step taken by every server at its next key reload, with no restart.
    @Test func anOperatorKeyFileRotatesByEditingItWithoutARestart() async throws {
        let harness = Harness { $0.adminAPIKey = Self.adminKey }
        let old = SigningKey.generate(), new = SigningKey.generate()
        let file = (harness.directory as NSString).appendingPathComponent("signing.pem")
        try FileManager.default.createDirectory(atPath: harness.directory, withIntermediateDirectories: true)
        @Sendable func write(_ keys: [SigningKey], parameters: Bool = false) throws {
            // `openssl ecparam -genkey` writes an EC PARAMETERS block before each key: skipped.
            let params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
            try keys.map { (parameters ? params : "") + $0.privateKey.pemRepresentation + "\n" }.joined()
                .write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write([old])
        var configured = harness
        configured.configuration.signingKeyFile = file
        try await configured.withApp { client, services in
            let before = try await client.signIn("device-file-1")
            #expect(try kid(of: before.accessToken) == old.id.rawValue)

            // 1. The new key published beside the old one, which still signs.
            try write([old, new], parameters: true)
            #expect(try await services.keys.reload(now: harness.clock.now()).map(\.rawValue) == [new.id.rawValue])
            #expect(try await publishedKids(client) == [old.id.rawValue, new.id.rawValue])
            #expect(try kid(of: try await client.signIn("device-file-1").accessToken) == old.id.rawValue)

            // 2. The new key first: it signs; tokens of the old one still work while it is published.
            try write([new, old])
            _ = try await services.keys.reload(now: harness.clock.now())
            let after = try await client.signIn("device-file-1")
            #expect(try kid(of: after.accessToken) == new.id.rawValue)
            #expect(try await Set(publishedKids(client)) == [old.id.rawValue, new.id.rawValue])
            #expect(try await client.me(before.accessToken).status == .ok)

            // 3. The old key dropped.
            try write([new])
            _ = try await services.keys.reload(now: harness.clock.now())
            #expect(try await publishedKids(client) == [new.id.rawValue])
            #expect(try await client.me(after.accessToken).status == .ok)

            // A broken edit changes nothing: the keys in use stay.
            try "not a key".write(toFile: file, atomically: true, encoding: .utf8)
            await #expect(throws: ConfigurationError.self) { try await services.keys.reload(now: harness.clock.now()) }
            try write([new, new])
            await #expect(throws: ConfigurationError.self) { try await services.keys.reload(now: harness.clock.now()) }
            #expect(try await publishedKids(client) == [new.id.rawValue])
            #expect(try kid(of: try await client.signIn("device-file-1").accessToken) == new.id.rawValue)
        }
    }
}
