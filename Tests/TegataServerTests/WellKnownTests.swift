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

@Suite struct WellKnownTests {
    @Test(arguments: ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
    func discoveryDocumentsDescribeThisServer(path: String) async throws {
        try await Harness().withApp { client, _ in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=300")
                let document = try response.decode(DiscoveryDocument.self)
                #expect(document.issuer == "http://127.0.0.1:8080")
                #expect(document.jwksURI == "http://127.0.0.1:8080/.well-known/jwks.json")
                #expect(document.responseTypesSupported == ["none"])
                #expect(!response.text.contains("id_token"), "Tegata issues no ID tokens: \(response.text)")
                #expect(document.accessTokenSigningAlgValuesSupported == ["ES256"])
                #expect(document.tokenEndpoint == "http://127.0.0.1:8080/oauth/token")
                #expect(document.revocationEndpoint == "http://127.0.0.1:8080/oauth/revoke")
                #expect(document.introspectionEndpoint == "http://127.0.0.1:8080/oauth/introspect")
                #expect(document.grantTypesSupported == ["refresh_token"])
            }
        }
    }

    @Test func jwksPublishesTheSigningKeyAndIsCacheable() async throws {
        let harness = Harness { $0.jwksMaxAge = 120 }
        try await harness.withApp { client, services in
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=120")
                let jwks = try response.decode(JWKSDocument.self)
                #expect(jwks.keys.count == 1)
                let key = jwks.keys[0]
                #expect(key.kty == "EC" && key.crv == "P-256" && key.alg == "ES256" && key.use == "sig")
                #expect(key.kid == services.keyRing.currentKeyID.rawValue)
                #expect(!response.text.contains("\"d\""), "never the private part")
            }
        }
    }

    @Test func healthAndReadiness() async throws {
        try await Harness().withApp { client, _ in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.text == #"{"status":"ready"}"#)
            }
        }
    }

    @Test func unknownRoutesAndMethodsAreContractErrors() async throws {
        try await Harness().withApp { client, _ in
            for (uri, method) in [("/nope", HTTPRequest.Method.get), ("/v1/nope", .put)] {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .notFound)
                    #expect(response.errorBody?.error == .notFound)
                }
            }
            // A known path with a method it does not serve: 405 (StrictRequestTests has the detail).
            for (uri, method) in [("/v1/me", HTTPRequest.Method.put), ("/v1/auth/device", .get)] {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.errorBody?.error == .invalidRequest)
                }
            }
        }
    }
}
