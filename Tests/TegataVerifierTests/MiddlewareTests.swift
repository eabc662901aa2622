import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import TegataServer
import TegataTestSupport
import TegataTokens
import TegataVerifier
import TegataVerifierHummingbird
import TegataWire
import Testing

struct APIContext: TegataAuthRequestContext {
    var coreContext: CoreRequestContextStorage
    var tegataClaims: AccessTokenClaims?
    init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// The Hummingbird middleware, in process, in front of a route, against a live Tegata.
@Suite struct MiddlewareTests {
    static func api(_ verifier: TegataVerifier) -> some ApplicationProtocol {
        let router = Router(context: APIContext.self)
        router.get("/health") { _, _ in "ok" }
        router.group("/v1").add(middleware: TegataAuthMiddleware(verifier: verifier, realm: "orders"))
            .get("/whoami") { _, context in try context.requireTegataClaims().sub }
        return Application(router: router)
    }

    @Test func theMiddlewareAnswersAsRFC6750Says() async throws {
        try await VerifierTests.withServer { server in
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString), logger: VerifierTests.quiet)
            let (token, user) = try await VerifierTests.signIn(server)
            try await Self.api(verifier).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .ok && String(buffer: $0.body) == user)
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "bearer \(token)"]) {
                    #expect($0.status == .ok)
                }
                for headers: HTTPFields in [[:], [.authorization: "Basic abc"], [.authorization: "Bearer "]] {
                    try await client.execute(uri: "/v1/whoami", method: .get, headers: headers) {
                        #expect($0.status == .unauthorized)
                        #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\"")
                        #expect(String(buffer: $0.body).contains("\"error\":\"invalid_token\""))
                    }
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)x"]) {
                    #expect($0.status == .unauthorized)
                    #expect($0.headers[.wwwAuthenticate] == "Bearer realm=\"orders\", error=\"invalid_token\"")
                    #expect(!String(buffer: $0.body).contains(token))
                }
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func aVerifierThatCannotDecideAnswers503() async throws {
        try await VerifierTests.withServer { server in
            let (token, _) = try await VerifierTests.signIn(server)
            // No discovery document at this issuer (404): no keys.
            let verifier = TegataVerifier(configuration: .init(issuer: server.baseURL.absoluteString + "/elsewhere"), logger: VerifierTests.quiet)
            try await Self.api(verifier).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .serviceUnavailable)
                    #expect($0.headers[.wwwAuthenticate] == nil)
                    let body = try WireCoding.makeDecoder().decode(ErrorBody.self, from: Data(String(buffer: $0.body).utf8))
                    #expect(body.error == .serverError)
                }
            }
        }
    }
}
