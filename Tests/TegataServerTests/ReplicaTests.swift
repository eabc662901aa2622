import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import TegataCore
import TegataServer
import TegataStorePostgres
import TegataTestSupport
import TegataTokens
import TegataWire
import Testing

/// Two Tegata replicas on one PostgreSQL database, each with its own pool and its own memory,
/// answering the same clients: every rule must hold across them, enforced by the database alone.
@Suite(.enabled(if: PostgresTestDatabase.isConfigured,
                "no PostgreSQL server configured (TEGATA_TEST_POSTGRES_URL): the two-replica tests are skipped"))
struct ReplicaTests {
    static let adminKey = "admin-key-0123456789abcdef0123456789abcdef"

    /// Runs `body` with two replicas (in process, through their routers) on a new database, sharing a
    /// clock, a master key and every other setting, as replicas behind one load balancer do.
    static func withReplicas<T: Sendable>(
        _ adjust: @Sendable (inout TegataConfiguration) -> Void = { _ in },
        _ body: @Sendable (_ a: any TestClientProtocol, _ b: any TestClientProtocol, _ servicesA: TegataServices,
                           _ servicesB: TegataServices, _ clock: ManualClock) async throws -> T
    ) async throws -> T {
        let url = try await PostgresTestDatabase.create()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        var configuration = TegataConfiguration()
        configuration.database = .postgres(try PostgresURL(parsing: url))
        configuration.databasePoolSize = 6
        configuration.databaseLockTimeout = 30  // 50 concurrent refreshes on a loaded machine: see StoreUnderTest.postgres
        configuration.masterKey = .inline(Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ 3) }))
        configuration.issuer = "http://127.0.0.1:8080"
        configuration.audience = configuration.issuer
        configuration.adminAPIKey = adminKey
        adjust(&configuration)
        var logger = Logger(label: "replica-test")
        logger.logLevel = .critical
        do {
            let servicesA = try await TegataServices.make(configuration: configuration, clock: clock, logger: logger)
            let servicesB = try await TegataServices.make(configuration: configuration, clock: clock, logger: logger)
            let result = try await buildApplication(services: servicesA).test(.router) { a in
                try await buildApplication(services: servicesB).test(.router) { b in
                    try await body(a, b, servicesA, servicesB, clock)
                }
            }
            await servicesA.store.close()
            await servicesB.store.close()
            await PostgresTestDatabase.drop(url)
            return result
        } catch {
            await PostgresTestDatabase.drop(url)
            throw error
        }
    }

    @Test func fiftyConcurrentRefreshesOfOneTokenOverBothReplicasConvergeAndTheSessionSurvives() async throws {
        try await Self.withReplicas { a, b, _, _, _ in
            let tokens = try await a.signIn()
            let answers = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<50 {
                    let client = index.isMultiple(of: 2) ? a : b
                    group.addTask {
                        let response = try await client.refresh(tokens.refreshToken)
                        return (Int(response.status.code), response.status == .ok ? try response.decode(TokenResponse.self).refreshToken : nil)
                    }
                }
                return try await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.0 == 200 }, "every concurrent refresh is answered 200: \(answers.map(\.0))")
            let current = Set(answers.compactMap(\.1))
            #expect(current.count == 1, "all converge on one current refresh token")
            // The session lives on: the current token rotates at either replica.
            let next = try await b.refreshed(try #require(current.first))
            #expect(try await a.me(next.accessToken).status == .ok)
        }
    }

    @Test func aReplayAfterTheGraceIntervalAtEitherReplicaKillsTheSessionAtBoth() async throws {
        for replayAtA in [true, false] {
            try await Self.withReplicas { a, b, _, _, clock in
                let first = try await a.signIn()
                let second = try await b.refreshed(first.refreshToken)
                clock.advance(by: 11)
                let replay = try await (replayAtA ? a : b).refresh(first.refreshToken)
                #expect(replay.status == .badRequest && replay.errorBody?.error == .invalidGrant)
                for client in [a, b] {
                    #expect(try await client.refresh(second.refreshToken).status == .badRequest, "the family is dead everywhere")
                    #expect(try await client.me(second.accessToken).status == .unauthorized, "and so is its access token")
                }
            }
        }
    }

    @Test func twentyConcurrentFirstSignInsOfOneDeviceOverBothReplicasMakeOneUser() async throws {
        try await Self.withReplicas { a, b, _, servicesB, _ in
            let users = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<20 {
                    let client = index.isMultiple(of: 2) ? a : b
                    group.addTask { try await client.signIn("device-shared-1").user.id }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(users.count == 1)
            #expect(try await servicesB.store.countUsers() == 1)
        }
    }

    @Test func twentyConcurrentFirstSignInsOfOneExternalIdentityOverBothReplicasMakeOneUser() async throws {
        try await FakeProvider.with(keys: [TokenExchangeTests.lineKey]) { provider in
            let providers = try TokenExchangeTests.harness(provider, only: ["line"]).configuration.providers
            try await Self.withReplicas({ $0.providers = providers }) { a, b, _, servicesB, clock in
                // Twenty ID tokens of one LINE user, never seen before (each is exchanged once only).
                let idTokens = (0..<20).map { _ in
                    TokenExchangeTests.lineKey.sign(ProviderClaims.fresh(ProviderClaims.line(now: clock.now())))
                }
                let answers = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                    for (index, idToken) in idTokens.enumerated() {
                        let client = index.isMultiple(of: 2) ? a : b
                        group.addTask {
                            let response = try await client.exchange(idToken, provider: "line", nonce: nil)
                            return (Int(response.status.code), response.status == .ok ? try response.decode(TokenResponse.self).user.id : nil)
                        }
                    }
                    return try await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
                }
                #expect(answers.allSatisfy { $0.0 == 200 }, "every first sign-in is answered 200: \(answers.map(\.0))")
                #expect(Set(answers.compactMap(\.1)).count == 1, "one user for one identity")
                #expect(try await servicesB.store.countUsers() == 1)
            }
        }
    }

    @Test func aLogoutAtOneReplicaKillsTheAccessTokenAtTheOtherAtOnce() async throws {
        try await Self.withReplicas { a, b, _, _, _ in
            let tokens = try await a.signIn()
            #expect(try await b.me(tokens.accessToken).status == .ok)
            #expect(try await a.logout(tokens.accessToken, scope: "global").status == .noContent)
            #expect(try await b.me(tokens.accessToken).status == .unauthorized)
            #expect(try await b.refresh(tokens.refreshToken).status == .badRequest)
        }
    }

    private static func rotate(_ client: any TestClientProtocol, immediate: Bool) async throws -> KeyRotationResponse {
        try await client.execute(
            uri: "/admin/v1/keys/rotate", method: .post,
            headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
            body: ByteBuffer(string: #"{"immediate": \#(immediate)}"#)
        ) { response in
            #expect(response.status == .ok, "\(response.text)")
            return try response.decode(KeyRotationResponse.self)
        }
    }

    private static func publishedKids(_ client: any TestClientProtocol) async throws -> [String] {
        try await client.execute(uri: "/.well-known/jwks.json", method: .get) { try $0.decode(JWKSDocument.self).keys.map(\.kid) }
    }

    private static func kid(of token: String) throws -> String {
        let header = try #require(Base64URL.decode(String(token.split(separator: ".")[0])))
        return try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])["kid"] as! String
    }

    @Test func anImmediateRotationAtOneReplicaSignsTokensTheOtherAcceptsAtOnce() async throws {
        try await Self.withReplicas { a, b, servicesA, servicesB, _ in
            #expect(servicesA.keyRing.currentKeyID == servicesB.keyRing.currentKeyID, "both replicas start on the stored key")
            let rotation = try await Self.rotate(a, immediate: true)
            let token = try await a.signIn().accessToken
            #expect(try Self.kid(of: token) == rotation.kid)
            // B has not reloaded yet; the unknown kid makes it look in the database, once.
            #expect(try await b.me(token).status == .ok, "a token signed at A verifies at B at once")
            #expect(try await Self.publishedKids(b).contains(rotation.kid))
            #expect(try Self.kid(of: try await b.signIn("device-0002").accessToken) == rotation.kid, "and B signs with it too")
        }
    }

    @Test func aPlannedRotationAtOneReplicaIsPublishedByTheOtherBeforeEitherSignsWithIt() async throws {
        try await Self.withReplicas({ $0.jwksMaxAge = 120; $0.keyReloadInterval = 1 }) { a, b, servicesA, _, clock in
            let old = servicesA.keyRing.currentKeyID.rawValue
            let rotation = try await Self.rotate(a, immediate: false)
            // B's reloader takes the schedule from the store every key_reload_interval (1 s here).
            #expect(try await eventually(10) { try await Self.publishedKids(b) == [old, rotation.kid] },
                    "published at B before it signs anywhere")
            #expect(try Self.kid(of: try await b.signIn("device-0002").accessToken) == old)
            clock.advance(by: 120)
            let fromA = try await a.signIn("device-0003").accessToken
            let fromB = try await b.signIn("device-0004").accessToken
            #expect(try Self.kid(of: fromA) == rotation.kid && Self.kid(of: fromB) == rotation.kid, "both switch at the same moment")
            #expect(try await a.me(fromB).status == .ok)
            #expect(try await b.me(fromA).status == .ok)
        }
    }

    @Test func twentyConcurrentDeliveriesOfOneWebhookEventOverBothReplicasApplyItOnce() async throws {
        try await Self.withReplicas({
            $0.stripeWebhookSecret = stripeSecret
            $0.stripeEntitlements = ["price_pro": ["pro"]]
        }) { a, b, _, _, clock in
            let tokens = try await a.signIn()
            let created = Int64(clock.now().timeIntervalSince1970)
            let body = stripeEvent("evt_replicas", "customer.subscription.created", created: created, object: subscriptionObject(
                periodEnd: created + 86_400, metadata: ["tegata_user_id": tokens.user.id]))
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<20 {
                    let client = index.isMultiple(of: 2) ? a : b
                    group.addTask { try client.delivered(try await client.stripe(body, signedAt: created)) }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == "applied" }.count == 1 && results.filter { $0 == "duplicate" }.count == 19, "\(results)")
            var refreshed = tokens
            #expect(try await b.entitlementsAfterRefresh(&refreshed)?["pro"] != nil, "granted once, seen at the other replica")
        }
    }

    /// Revocations written through both replicas at once, with numbers committing out of order, are
    /// each seen exactly once by a follower that reads the feed from both; and a long poll waiting at
    /// one replica is woken by a revocation written through the other.
    @Test func aFeedFollowerSeesEveryEventOnceWhicheverReplicaWroteOrServesIt() async throws {
        try await Self.withReplicas({ $0.introspectionClients = [apiClient] }) { a, b, servicesA, servicesB, clock in
            let start = try await a.feed().cursor
            let until = clock.now().addingTimeInterval(900)
            let jtis = try await withThrowingTaskGroup(of: [String].self) { group in
                for writer in 0..<4 {
                    let store = writer.isMultiple(of: 2) ? servicesA.store : servicesB.store
                    group.addTask {
                        for index in 0..<40 { try await store.revokeAccessToken(jti: "w\(writer)-\(index)", until: until, now: clock.now()) }
                        return []
                    }
                }
                group.addTask {
                    var cursor = start
                    var seen: [String] = []
                    var turn = 0
                    let deadline = Date().addingTimeInterval(60)
                    while seen.count < 160 && Date() < deadline {
                        turn += 1
                        let page = try await (turn.isMultiple(of: 2) ? a : b).feed("?after=\(cursor)")
                        seen += page.events.compactMap(\.jti)
                        cursor = page.cursor
                    }
                    return seen
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(jtis.count == 160 && Set(jtis).count == 160, "every event once: \(jtis.count) seen, \(Set(jtis).count) distinct")
            // A long poll at B, woken by a logout through A.
            let cursor = try await b.feed().cursor
            let tokens = try await a.signIn()
            let started = ContinuousClock.now
            async let woken = b.feed("?after=\(cursor)&wait=10")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await a.logout(tokens.accessToken, scope: "local").status == .noContent)
            let page = try await woken
            #expect(page.events.contains { $0.sid != nil }, "the session event arrived")
            #expect(ContinuousClock.now - started < .seconds(5), "well before the wait ran out")
        }
    }

    /// postgres-nio logs every message it receives at trace level: the store keeps its logger at
    /// info or above, so no stored value (here, a device id) reaches a log, whatever the level.
    @Test func atTraceLevelNoStoredValueReachesTheLog() async throws {
        let url = try await PostgresTestDatabase.create()
        let capture = LogCapture()
        var configuration = TegataConfiguration()
        configuration.database = .postgres(try PostgresURL(parsing: url))
        configuration.masterKey = .inline(Data(repeating: 7, count: 32))
        do {
            let services = try await TegataServices.make(configuration: configuration, clock: ManualClock(), logger: capture.logger())
            try await buildApplication(services: services).test(.router) { client in
                _ = try await client.signIn("device-seen-in-no-log-1")
                _ = try await client.signIn("device-seen-in-no-log-1")
            }
            await services.store.close()
        } catch {
            await PostgresTestDatabase.drop(url)
            throw error
        }
        await PostgresTestDatabase.drop(url)
        #expect(capture.all.contains { $0.contains("applied migration") }, "the store's own lines are logged")
        #expect(!capture.all.contains { $0.contains("device-seen-in-no-log-1") }, "a device id reached the log")
        // The driver's own trace and debug lines (which carry the rows it receives, as bytes) are not there at all.
        let driverLines = capture.all.filter { ($0.hasPrefix("trace ") || $0.hasPrefix("debug ")) && $0.contains("psql_connection_id") }
        #expect(driverLines.isEmpty, "postgres-nio logged below info: \(driverLines.prefix(2))")
    }
}
