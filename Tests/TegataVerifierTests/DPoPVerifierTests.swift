import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TegataTestSupport
import TegataTokens
import TegataVerifier
import TegataVerifierHummingbird
import TegataWire
import Testing

/// DPoP-bound tokens at a resource server: the verifier and its middleware against a live Tegata,
/// with proofs from the tests' independent implementation.
@Suite struct DPoPVerifierTests {
    static let api = "https://api.example.com"

    static func boundSignIn(_ server: LiveTegata, _ key: TestDPoPKey, device: String = "device-0001") async throws -> String {
        let (status, body) = try await server.raw(
            "POST", "/v1/auth/device", json: ["device_id": device, "device_secret": String(repeating: "k", count: 40), "platform": "ios"],
            headers: ["DPoP": key.proof("POST", server.baseURL.absoluteString + "/v1/auth/device", iat: Date())])
        #expect(status == 201 || status == 200, "\(body)")
        #expect(body["token_type"] as? String == "DPoP")
        return body["access_token"] as! String
    }

    @Test func aBoundTokenVerifiesOnlyWithAProofForTheRequest() async throws {
        try await VerifierTests.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: VerifierTests.quiet)
            let key = TestDPoPKey()
            let token = try await Self.boundSignIn(server, key)
            let url = Self.api + "/v1/orders"
            let proof = key.proof("GET", url, iat: Date(), accessToken: token)
            let claims = try await verifier.verify(token, dpopProof: proof, method: "GET", url: url)
            #expect(claims.cnf?.jkt == key.thumbprint)

            func refusal(_ body: () async throws -> AccessTokenClaims) async -> TegataVerifierError? {
                do { _ = try await body(); return nil } catch { return error as? TegataVerifierError }
            }
            // As a bearer token: refused, DPoP turned on or not.
            #expect(await refusal { try await verifier.verify(token) }?.reason == .dpopBound)
            #expect(await refusal { try await verifier.verify(token, dpopProof: proof, method: "GET", url: url) }?.code == .invalidDPoPProof,
                    "a copied proof is refused")
            let other = TestDPoPKey()
            for (why, proof, method, target) in [
                ("none", nil, "GET", url),
                ("another key", other.proof("GET", url, iat: Date(), accessToken: token), "GET", url),
                ("no ath", key.proof("GET", url, iat: Date()), "GET", url),
                ("another method", key.proof("POST", url, iat: Date(), accessToken: token), "GET", url),
                ("another uri", key.proof("GET", Self.api + "/v1/other", iat: Date(), accessToken: token), "GET", url),
                ("old", key.proof("GET", url, iat: Date().addingTimeInterval(-300), accessToken: token), "GET", url),
                ("ahead", key.proof("GET", url, iat: Date().addingTimeInterval(300), accessToken: token), "GET", url),
            ] as [(String, String?, String, String)] {
                let error = await refusal { try await verifier.verify(token, dpopProof: proof, method: method, url: target) }
                #expect(error?.code == .invalidDPoPProof && error?.isClientError == true, "\(why): \(String(describing: error))")
            }
            // An unbound token does not go through the DPoP path.
            let (plain, _) = try await VerifierTests.signIn(server, device: "device-0002")
            #expect(await refusal {
                try await verifier.verify(plain, dpopProof: key.proof("GET", url, iat: Date(), accessToken: plain), method: "GET", url: url)
            }?.reason == .notDPoPBound)
            #expect(try await verifier.verify(plain).cnf == nil)
        }
    }

    @Test func aFullReplayCacheRefusesRatherThanForgets() async throws {
        try await VerifierTests.withServer { server in
            var configuration = TegataVerifierConfiguration(issuer: server.baseURL.absoluteString)
            configuration.dpop.replayCacheCapacity = 1
            let verifier = TegataVerifier(configuration: configuration, logger: VerifierTests.quiet)
            let key = TestDPoPKey()
            let token = try await Self.boundSignIn(server, key)
            let url = Self.api + "/v1/orders"
            _ = try await verifier.verify(token, dpopProof: key.proof("GET", url, iat: Date(), accessToken: token), method: "GET", url: url)
            do {
                _ = try await verifier.verify(token, dpopProof: key.proof("GET", url, iat: Date(), accessToken: token), method: "GET", url: url)
                Issue.record("a full cache must refuse")
            } catch let error as TegataVerifierError {
                #expect(error.code == .dpopReplayCacheFull && !error.isClientError)
            }
        }
    }

    @Test func theMiddlewareTakesDPoPWhereItIsTurnedOn() async throws {
        try await VerifierTests.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: VerifierTests.quiet)
            let key = TestDPoPKey()
            let token = try await Self.boundSignIn(server, key)
            let router = Router(context: APIContext.self)
            router.group("/v1").add(middleware: TegataAuthMiddleware(verifier: verifier, realm: "orders", publicBaseURL: Self.api + "/"))
                .get("/whoami") { _, context in try context.requireTegataClaims().cnf?.jkt ?? "unbound" }
            let plainRouter = Router(context: APIContext.self)
            plainRouter.group("/v1").add(middleware: TegataAuthMiddleware(verifier: verifier, realm: "orders"))
                .get("/whoami") { _, context in try context.requireTegataClaims().sub }
            let dpop = HTTPField.Name("DPoP")!
            let url = Self.api + "/v1/whoami"
            try await Application(router: router).test(.router) { client in
                try await client.execute(
                    uri: "/v1/whoami", method: .get,
                    headers: [.authorization: "DPoP \(token)", dpop: key.proof("GET", url, iat: Date(), accessToken: token)]
                ) {
                    #expect($0.status == .ok && String(buffer: $0.body) == key.thumbprint)
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)"]) {
                    #expect($0.status == .unauthorized)
                    #expect($0.headers[.wwwAuthenticate]?.hasPrefix(#"DPoP error="invalid_dpop_proof""#) == true)
                    #expect(String(buffer: $0.body).contains(#""error":"invalid_dpop_proof""#))
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .unauthorized && $0.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                    #expect(String(buffer: $0.body).contains("bound to a DPoP key"))
                }
            }
            try await Application(router: plainRouter).test(.router) { client in
                // Not turned on: DPoP is refused, and a bound token as Bearer still is.
                try await client.execute(
                    uri: "/v1/whoami", method: .get,
                    headers: [.authorization: "DPoP \(token)", dpop: key.proof("GET", url, iat: Date(), accessToken: token)]
                ) {
                    #expect($0.status == .unauthorized && String(buffer: $0.body).contains("does not accept DPoP"))
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }
}
