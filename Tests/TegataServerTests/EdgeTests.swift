import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import TegataCore
@testable import TegataServer
import TegataWire
import Testing

/// The HTTP edge: the access-token authentication in front of every bearer route, the one caching
/// policy, request ids, and controllers built from only what they use.
@Suite struct EdgeTests {
    /// Every route that takes the app's access token, with a body it would accept.
    static let bearerRoutes: [(method: HTTPRequest.Method, path: String, body: ByteBuffer?)] = [
        (.get, "/v1/me", nil),
        (.delete, "/v1/me", nil),
        (.post, "/v1/me/identities", json(["subject_token": "x", "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"])),
        (.delete, "/v1/me/identities/line", nil),
        (.post, "/v1/logout", nil),
        (.get, "/v1/sessions", nil),
        (.delete, "/v1/sessions/00000000-0000-4000-8000-000000000000", nil),
        (.post, "/v1/realtime/token", nil),
        (.post, "/v1/realtime/subscription-token", json(["channel": "chat:lobby"])),
    ]

    static func withRealtime(_ configuration: inout TegataConfiguration) {
        configuration.realtimeSigning = .hmac(secret: "centrifugo-secret-0123456789abcdef")
    }

    @Test func everyBearerRouteIsAuthenticatedBeforeItReadsItsBody() async throws {
        try await Harness(Self.withRealtime).withApp { client, _ in
            let live = try await client.signIn()
            let ended = try await client.signIn("device-0002")
            #expect(try await client.logout(ended.accessToken, scope: nil).status == .noContent)
            for route in Self.bearerRoutes {
                let name = "\(route.method) \(route.path)"
                // No token, and a body that is not even JSON: the missing token is what is answered.
                let none = try await client.execute(
                    uri: route.path, method: route.method, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{"))
                #expect(none.status == .unauthorized, "\(name)")
                #expect(none.headers[.wwwAuthenticate] == #"Bearer realm="tegata""#, "\(name)")
                #expect(none.errorBody?.error == .invalidToken, "\(name)")

                let dead = try await client.authorized(route.path, route.method, token: ended.accessToken, body: route.body)
                #expect(dead.status == .unauthorized, "\(name): a token of an ended session")
                #expect(dead.headers[.wwwAuthenticate]?.hasPrefix(#"Bearer error="invalid_token""#) == true, "\(name)")

                var twice = HTTPFields()
                twice.append(HTTPField(name: .authorization, value: "Bearer \(live.accessToken)"))
                twice.append(HTTPField(name: .authorization, value: "Bearer \(live.accessToken)"))
                let repeated = try await client.execute(uri: route.path, method: route.method, headers: twice, body: route.body)
                #expect(repeated.status == .badRequest && repeated.errorBody?.error == .invalidRequest, "\(name): two Authorization fields")
            }
            // The live token still passes the authentication on each (what the route then answers is its own business).
            for route in Self.bearerRoutes where route.method == .get {
                #expect(try await client.authorized(route.path, route.method, token: live.accessToken).status == .ok, "\(route.path)")
            }
        }
    }

    @Test func aRouteLeftOutsideTheAuthenticationNeverSeesAnIdentity() async throws {
        let router = Router(context: TegataRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: nil))
        router.get("/forgotten") { _, context in
            _ = try context.requireIdentity()
            return Response(status: .ok)
        }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/forgotten", method: .get, headers: [.authorization: "Bearer anything"])
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tegata""#)
        }
    }

    @Test func everyAnswerIsNoStoreExceptThePublicDocuments() async throws {
        try await Harness { $0.allowedOrigins = ["https://app.example.com"] }.withApp { client, _ in
            let tokens = try await client.signIn()
            var answers: [(String, TestResponse)] = []
            answers.append(("sign-in", try await client.execute(
                uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody("device-0002"))))
            let refreshed = try await client.refresh(tokens.refreshToken)
            answers.append(("refresh", refreshed))
            let current = try refreshed.decode(TokenResponse.self)
            answers.append(("me", try await client.me(current.accessToken)))
            answers.append(("sessions", try await client.authorized("/v1/sessions", .get, token: current.accessToken)))
            answers.append(("bad refresh", try await client.refresh("not-a-token")))
            answers.append(("unknown path", try await client.execute(uri: "/nowhere", method: .get)))
            answers.append(("wrong method", try await client.execute(uri: "/v1/me", method: .put)))
            answers.append(("healthz", try await client.execute(uri: "/healthz", method: .get)))
            answers.append(("readyz", try await client.execute(uri: "/readyz", method: .get)))
            answers.append(("webhook off", try await client.execute(uri: "/v1/webhooks/stripe", method: .post)))
            answers.append(("admin off", try await client.execute(uri: "/admin/v1/keys/rotate", method: .post)))
            answers.append(("preflight", try await client.execute(uri: "/v1/session", method: .options, headers: [
                .origin: "https://app.example.com", .accessControlRequestMethod: "GET",
            ])))
            answers.append(("revoke", try await client.execute(
                uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: form(["token": current.refreshToken]))))
            answers.append(("logout", try await client.logout(current.accessToken, scope: nil)))
            for (name, answer) in answers {
                #expect(answer.headers[values: .cacheControl] == ["no-store"], "\(name) (\(answer.status))")
            }
            for path in ["/.well-known/jwks.json", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
                let answer = try await client.execute(uri: path, method: .get)
                #expect(answer.headers[values: .cacheControl] == ["public, max-age=300"], "\(path)")
            }
        }
    }

    @Test func aSaneRequestIDIsKeptAndAnythingElseReplaced() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let field = HTTPField.Name("X-Request-Id")!
            for sane in ["abc", "4b0b5c1e-0c1d-4e5f-8a9b-0123456789ab", "Root=1-67891233-abcdef012345678912345678", String(repeating: "a", count: 128)] {
                for path in ["/healthz", "/nowhere", "/v1/me"] {
                    let answer = try await client.execute(uri: path, method: .get, headers: [field: sane])
                    #expect(answer.headers[field] == sane, "\(path)")
                }
            }
            var twice = HTTPFields()
            twice.append(HTTPField(name: field, value: "first"))
            twice.append(HTTPField(name: field, value: "second"))
            var replaced: [String] = []
            for headers: HTTPFields in [
                [:], [field: ""], [field: String(repeating: "a", count: 129)], [field: "has space"], [field: "quote\"d"],
                [field: "ünïcode"], [field: "semi;colon"], twice,
            ] {
                let answer = try await client.execute(uri: "/v1/me", method: .get, headers: headers)
                let id = try #require(answer.headers[field], "\(headers)")
                #expect(RequestIDMiddleware.isSane(id) && UUID(uuidString: id) != nil, "\(headers): \(id)")
                replaced.append(id)
            }
            #expect(Set(replaced).count == replaced.count, "a new id for each request")
            _ = try await client.execute(uri: "/v1/me", method: .get, headers: [field: "follow-me-42"])
        }
        let lines = harness.logs.all.filter { $0.contains("request_id=follow-me-42") }
        #expect(lines.contains { $0.hasPrefix("info request ") && $0.contains("status=401") }, "\(lines)")
        #expect(!harness.logs.all.contains { $0.contains("hb.request.id") })
    }

    @Test func theClientAddressIsThePeerUnlessItIsATrustedProxy() async throws {
        // A proxy on loopback saw 198.51.100.7, which had prepended 1.1.1.1; the client also sent its own `Forwarded`.
        let spoofed: HTTPFields = [
            HTTPField.Name("X-Forwarded-For")!: "1.1.1.1, 198.51.100.7", HTTPField.Name("Forwarded")!: "for=5.5.5.5",
            HTTPField.Name("X-Request-Id")!: "addr-1",
        ]
        let direct = Harness()
        try await direct.withApp(.live) { client, _ in _ = try await client.execute(uri: "/healthz", method: .get, headers: spoofed) }
        let directLine = try #require(direct.logs.all.first { $0.contains("request_id=addr-1") && $0.hasPrefix("info request ") })
        #expect(directLine.contains("client=127.0.0.1") && !directLine.contains("198.51.100.7"), "\(directLine)")

        let proxied = Harness { $0.trustedProxies = [IPNetwork(cidr: "127.0.0.0/8")!] }
        try await proxied.withApp(.live) { client, _ in _ = try await client.execute(uri: "/healthz", method: .get, headers: spoofed) }
        let proxiedLine = try #require(proxied.logs.all.first { $0.contains("request_id=addr-1") && $0.hasPrefix("info request ") })
        #expect(proxiedLine.contains("client=198.51.100.7"), "\(proxiedLine)")

        let rfc7239 = Harness { $0.trustedProxies = [IPNetwork(cidr: "127.0.0.0/8")!]; $0.forwardedHeader = .forwarded }
        try await rfc7239.withApp(.live) { client, _ in _ = try await client.execute(uri: "/healthz", method: .get, headers: spoofed) }
        let rfc7239Line = try #require(rfc7239.logs.all.first { $0.contains("request_id=addr-1") && $0.hasPrefix("info request ") })
        #expect(rfc7239Line.contains("client=5.5.5.5"), "only the configured field is read: \(rfc7239Line)")
    }

    /// A store whose database never answers.
    struct UnreachableDatabase: StoreHealth {
        func ping() async throws { throw TegataError.serviceUnavailable("no database") }
    }

    /// A revocation feed that is empty until its third read.
    final class SlowFeed: RevocationFeedStore {
        let reads = Mutex(0)
        func revocationEvents(after cursor: RevocationFeedCursor?, now: Date, limit: Int) async throws -> RevocationFeedPage {
            let read = reads.withLock { $0 += 1; return $0 }
            let events = read >= 3 ? [RevocationEvent(sequence: 8, kind: .session(sid: "s-1"), until: now.addingTimeInterval(60))] : []
            return RevocationFeedPage.numbered(events: events, after: 7, newest: read >= 3 ? 8 : 7, limit: limit)
        }
    }

    /// Routes for one controller on a bare router (the authentication groups are unused).
    static func routes(_ register: (TegataRoutes) -> Void) -> Router<TegataRequestContext> {
        let router = Router(context: TegataRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: nil))
        register(TegataRoutes(open: router, signedIn: router.group(), signedInWithUser: router.group()))
        return router
    }

    @Test func aControllerIsBuiltWithAFakeOfItsOneDependency() async throws {
        let health = Self.routes { HealthController(database: UnreachableDatabase()).register(on: $0) }
        try await Application(router: health).test(.router) { client in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable && ready.headers[.retryAfter] == "1")
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }

        let feed = SlowFeed()
        let clients = ResourceServerClients(configured: [("api", "api-secret-0123456789")])
        let revocations = Self.routes {
            RevocationsController(feed: feed, clients: clients, clock: SystemClock()).register(on: $0)
        }
        try await Application(router: revocations).test(.router) { client in
            let basic = "Basic " + Data("api:api-secret-0123456789".utf8).base64EncodedString()
            let cursor = RevocationFeedCursor(sequence: 7).rawValue
            let answer = try await client.execute(uri: "/v1/revocations?after=\(cursor)&wait=5", method: .get, headers: [.authorization: basic])
            #expect(answer.status == .ok, "\(answer.text)")
            let page = try answer.decode(RevocationFeed.self)
            #expect(page.events.map(\.sid) == ["s-1"], "the long poll waited for the event")
            #expect(feed.reads.withLock { $0 } == 3)
        }
    }
}
