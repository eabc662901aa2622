import Foundation
import Hummingbird
import Logging
import Synchronization
import TegataClient
import TegataServer
import TegataTestSupport
import TegataWire
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The client against a live Tegata server: sign-in, proactive single-flight renewal, retry on 401,
/// the fallback chain, sign-out races, restarts.
@Suite struct ClientSessionTests {
    @Test func deviceSignInGeneratesStoresAndReusesTheDeviceCredentials() async throws {
        try await LiveTegata.with { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let client = TegataClient.make(server, storage: storage, transport: transport)
            let user = try await client.signInWithDevice()
            #expect(user.anon)
            let stored = try #require(try storage.load())
            let device = try #require(stored.device)
            #expect(device.id.count == 36 && device.secret.count == 43 && device.userID == user.id)
            #expect(stored.session?.user == user)
            #expect(await client.currentUser == user)

            // A new client on the same store (the app relaunched) is signed in without a call.
            let relaunched = TegataClient.make(server, storage: storage, transport: transport)
            #expect(await relaunched.currentUser == user)
            let before = transport.total
            let token = try await relaunched.accessToken()
            #expect(token == stored.session?.accessToken)
            #expect(transport.total == before)

            // Signing in again with the same device credentials returns the same user.
            #expect(try await relaunched.signInWithDevice().id == user.id)
            // The replaced session was revoked, not left behind.
            let sessions = try await server.sessions(ofUser: user.id)
            #expect(sessions.count == 2 && sessions[0].revoked && !sessions[1].revoked)

            let (data, response) = try await relaunched.send(URLRequest(url: server.baseURL.appendingPathComponent("v1/me")))
            #expect(response.statusCode == 200)
            #expect(try WireCoding.makeDecoder().decode(MeResponse.self, from: data).id == user.id)
        }
    }

    @Test func aHundredConcurrentCallersAcrossAnExpiryShareOneRefresh() async throws {
        try await LiveTegata.with { server in
            let clock = DeviceClock()
            let transport = CountingTransport()
            let storage = CountingStorage()
            let client = TegataClient.make(server, storage: storage, transport: transport, clock: clock)
            try await client.signInWithDevice()
            let first = try await client.accessToken()
            let sid = sessionID(of: first)
            let locksBefore = storage.locks
            #expect(try await server.generation(ofSession: sid) == 0)

            clock.advance(by: 901)  // past the 900 s access token's expiry on the device's clock
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<100 { group.addTask { try await client.accessToken() } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(tokens.count == 1 && !tokens.contains(first))
            #expect(transport.count("/oauth/token") == 1)
            // The callers joined one renewal in memory; they did not queue at the store's lock.
            #expect(storage.locks - locksBefore == 1)
            #expect(try await server.generation(ofSession: sid) == 1)
        }
    }

    @Test func theTokenIsRenewedWithinTheMarginNotBefore() async throws {
        try await LiveTegata.with { server in
            let clock = DeviceClock()
            let transport = CountingTransport()
            let client = TegataClient.make(server, transport: transport, clock: clock)
            try await client.signInWithDevice()
            let first = try await client.accessToken()
            clock.advance(by: 830)  // 70 s left: more than the 60 s margin
            #expect(try await client.accessToken() == first)
            #expect(transport.count("/oauth/token") == 0)
            clock.advance(by: 15)  // 55 s left
            #expect(try await client.accessToken() != first)
            #expect(transport.count("/oauth/token") == 1)
        }
    }

    @Test(arguments: [-3600.0, 3600.0])
    func aDeviceClockFarFromTheServersNeitherRefreshesOnEveryCallNorKeepsAnExpiredToken(offset: Double) async throws {
        try await LiveTegata.with { server in
            let clock = DeviceClock()
            clock.advance(by: offset)
            let transport = CountingTransport()
            let client = TegataClient.make(server, transport: transport, clock: clock)
            try await client.signInWithDevice()
            let first = try await client.accessToken()
            for _ in 0..<20 { #expect(try await client.accessToken() == first) }
            #expect(transport.count("/oauth/token") == 0)
            clock.advance(by: 890)
            #expect(try await client.accessToken() != first)
            #expect(transport.count("/oauth/token") == 1)
        }
    }

    @Test func aRejectedTokenIsRenewedAndTheRequestRetriedOnce() async throws {
        try await LiveTegata.with { server in
            let transport = CountingTransport()
            let client = TegataClient.make(server, transport: transport)
            try await client.signInWithDevice()
            // RFC 7009 revocation of the access token alone: the session lives on.
            let (status, _) = try await server.raw("POST", "/oauth/revoke", form: ["token": try await client.accessToken()])
            #expect(status == 200)
            let (_, response) = try await client.send(URLRequest(url: server.baseURL.appendingPathComponent("v1/me")))
            #expect(response.statusCode == 200)
            #expect(transport.count("/v1/me") == 2)
            #expect(transport.count("/oauth/token") == 1)
        }
    }

    @Test func anAPIThatAlwaysAnswers401IsCalledTwicePerRequestNeverMore() async throws {
        try await LiveTegata.with { server in
            try await AlwaysUnauthorized.with { api in
                let transport = CountingTransport()
                let client = TegataClient.make(server, transport: transport) { $0.apiBaseURLs = [api.url.deletingLastPathComponent()] }
                try await client.signInWithDevice()
                let request = URLRequest(url: api.url)
                let (_, response) = try await client.send(request)
                #expect(response.statusCode == 401)
                #expect(api.hits == 2)
                #expect(transport.count("/oauth/token") == 1)
                _ = try await client.send(request)
                #expect(api.hits == 4)
                #expect(transport.count("/oauth/token") == 2)
                #expect(await client.currentUser != nil)  // a resource server's 401 signs nobody out
            }
        }
    }

    @Test func aLostRefreshAnswerRecoversThroughTheGraceRule() async throws {
        try await LiveTegata.with { server in
            let transport = CountingTransport()
            let client = TegataClient.make(server, transport: transport)
            let user = try await client.signInWithDevice()
            let sid = sessionID(of: try await client.accessToken())
            var states = await client.authStates().makeAsyncIterator()
            #expect(await states.next() == .signedIn(user))

            transport.dropAnswers(to: "/oauth/token")  // the server rotates; the client never hears
            try await client.refreshSession()
            #expect(transport.count("/oauth/token") == 2)  // the retry presented the spent token
            #expect(try await server.generation(ofSession: sid) == 1)  // …and got the current one
            #expect(try await server.sessions(ofUser: user.id).map(\.revoked) == [false])
            #expect(sessionID(of: try await client.accessToken()) == sid)
            try await client.refreshSession()
            #expect(try await server.generation(ofSession: sid) == 2)
            #expect(await client.currentUser == user)
        }
    }

    @Test func withoutGraceALostRefreshAnswerEndsTheSessionAndTheDeviceSignsInAgain() async throws {
        try await LiveTegata.with({ $0.refreshReuseGrace = 0 }) { server in
            let transport = CountingTransport()
            let client = TegataClient.make(server, transport: transport)
            let user = try await client.signInWithDevice()
            let states = await client.authStates()
            let sid = sessionID(of: try await client.accessToken())

            transport.dropAnswers(to: "/oauth/token")
            try await client.refreshSession()
            // The retry was a replay: the server ended the session; the device credentials opened a new one.
            #expect(transport.count("/oauth/token") == 2)
            #expect(transport.count("/v1/auth/device") == 2)
            let newSID = sessionID(of: try await client.accessToken())
            #expect(newSID != sid)
            #expect(await client.currentUser == user)
            let sessions = try await server.sessions(ofUser: user.id)
            #expect(sessions.count == 2 && sessions.first { $0.id == sid }?.revoked == true)
            // The app never saw the user signed out.
            try await client.signOut()
            var seen: [AuthState] = []
            for await state in states {
                seen.append(state)
                if seen.count == 2 { break }
            }
            #expect(seen == [.signedIn(user), .signedOut])
        }
    }

    @Test func aSessionEndedElsewhereIsRenewedWithTheDeviceCredentials() async throws {
        try await LiveTegata.with { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let client = TegataClient.make(server, storage: storage, transport: transport)
            let user = try await client.signInWithDevice()
            let refreshToken = try #require(try storage.load()?.session?.refreshToken)
            #expect(try await server.raw("POST", "/oauth/revoke", form: ["token": refreshToken]).0 == 200)

            let (_, response) = try await client.send(URLRequest(url: server.baseURL.appendingPathComponent("v1/me")))
            #expect(response.statusCode == 200)
            #expect(transport.count("/v1/me") == 2)
            #expect(transport.count("/oauth/token") == 1)
            #expect(transport.count("/v1/auth/device") == 2)
            #expect(await client.currentUser?.id == user.id)
        }
    }

    @Test func aDeletedAccountEndsInSignInRequiredAfterABoundedNumberOfCalls() async throws {
        try await LiveTegata.with { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let client = TegataClient.make(server, storage: storage, transport: transport)
            let user = try await client.signInWithDevice()
            #expect(try await server.raw("DELETE", "/v1/me", token: try await client.accessToken()).0 == 204)
            let stored = try #require(try storage.load())
            let before = transport.total

            let error = await #expect(throws: TegataClientError.self) {
                _ = try await client.send(URLRequest(url: server.baseURL.appendingPathComponent("v1/me")))
            }
            #expect(error?.code == .signInRequired)
            for secret in [stored.device?.secret, stored.session?.refreshToken, stored.session?.accessToken] {
                #expect(!String(describing: error).contains(try #require(secret)))
            }
            // One call each: the request, the refresh, the device sign-in (which met a new, empty
            // user, so the client did not switch to it) and the revocation of that session.
            #expect(transport.total - before == 4)
            #expect(transport.count("/oauth/revoke") == 1)
            #expect(await client.currentUser == nil)
            #expect(try storage.load()?.session == nil)

            // From now on: no network at all until the app signs in.
            for _ in 0..<5 {
                await #expect(throws: TegataClientError.self) { _ = try await client.accessToken() }
            }
            #expect(transport.total - before == 4)
            let fresh = try await client.signInWithDevice()
            #expect(fresh.id != user.id && fresh.anon)
        }
    }

    @Test func aRateLimitedRefreshWaitsForRetryAfterAndRenewsTheSameSession() async throws {
        // One refresh per session per 10 s: a second renewal at once is answered 429 with a Retry-After
        // of up to 10 s (under the client's 30 s). The window is real time while the client's clock is
        // not: with 2 s, a CI run beside the whole suite took longer than that between the two renewals.
        try await LiveTegata.with({ $0.rateLimits.overrides[.sessionRefreshes] = RateLimitName.sessionRefreshes.policy(1, per: 10) }) { server in
            let transport = CountingTransport()
            let clock = DeviceClock()
            let client = TegataClient.make(server, transport: transport, clock: clock)
            let user = try await client.signInWithDevice()
            clock.advance(by: 901)
            let renewed = try await client.accessToken()
            clock.advance(by: 901)
            let again = try await client.accessToken()
            #expect(transport.count("/oauth/token") == 3, "renewal, 429, the retry after Retry-After")
            #expect(sessionID(of: again) == sessionID(of: renewed) && again != renewed)
            #expect(transport.count("/v1/auth/device") == 1, "no new sign-in")
            #expect(await client.currentUser == user)
        }
    }

    @Test func aRateLimitedRefreshWithALongWaitFailsAsTransientAndSignsNothingOut() async throws {
        // Retry-After 60 s is past the client's longest wait (30 s): it gives up at once, keeping everything.
        try await LiveTegata.with({ $0.rateLimits.overrides[.sessionRefreshes] = RateLimitName.sessionRefreshes.policy(1, per: 60) }) { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let clock = DeviceClock()
            let client = TegataClient.make(server, storage: storage, transport: transport, clock: clock)
            let user = try await client.signInWithDevice()
            clock.advance(by: 901)
            let renewed = try await client.accessToken()
            let stored = try storage.load()
            clock.advance(by: 901)
            let error = await #expect(throws: TegataClientError.self) { _ = try await client.accessToken() }
            #expect(error?.code == .unavailable, "a 429 is transient, never a sign-out")
            #expect(transport.count("/oauth/token") == 2)
            #expect(await client.currentUser == user)
            #expect(try storage.load() == stored, "the session and the device credentials are kept")
            #expect(transport.count("/v1/auth/device") == 1, "no new sign-in")
            #expect(try await server.generation(ofSession: sessionID(of: renewed)) == 1, "the session is alive at the server")
        }
    }

    @Test func aTransientFailureNeverSignsOutAndRefreshResumesAfterARestart() async throws {
        let directory = LiveTegata.makeDirectory()
        let storage = InMemoryCredentialStorage()
        let transport = CountingTransport()
        let clock = DeviceClock()
        let (port, user) = try await LiveTegata.with(directory: directory) { server in
            let client = TegataClient.make(server, storage: storage, transport: transport, clock: clock)
            return (server.port, try await client.signInWithDevice())
        }
        // The server is down.
        let client = TegataClient.make(
            LiveTegata(directory: directory, port: port), storage: storage, transport: transport, clock: clock)
        let stored = try storage.load()
        clock.advance(by: 901)
        let error = await #expect(throws: TegataClientError.self) { _ = try await client.accessToken() }
        #expect(error?.code == .unavailable)
        #expect(transport.count("/oauth/token") == 3)  // one try and two retries, then it gives up
        #expect(await client.currentUser == user)
        #expect(try storage.load() == stored)

        // Back up, same data, same port: the next call refreshes.
        try await LiveTegata.with(directory: directory, port: port) { server in
            let token = try await client.accessToken()
            #expect(token != stored?.session?.accessToken)
            let (_, response) = try await client.send(URLRequest(url: server.baseURL.appendingPathComponent("v1/me")))
            #expect(response.statusCode == 200)
            #expect(await client.currentUser == user)
        }
    }
}

/// A resource server on a real socket that answers every request with 401 and counts them.
final class AlwaysUnauthorized: Sendable {
    private let counter = Mutex(0)
    private let boundPort = Mutex(0)
    var hits: Int { counter.withLock { $0 } }
    var url: URL { URL(string: "http://127.0.0.1:\(boundPort.withLock { $0 })/things")! }

    static func with<T: Sendable>(_ body: @Sendable (AlwaysUnauthorized) async throws -> T) async throws -> T {
        let api = AlwaysUnauthorized()
        let router = Router()
        router.get("/things") { _, _ in
            api.counter.withLock { $0 += 1 }
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        var logger = Logger(label: "always-401")
        logger.logLevel = .critical
        let (ready, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                api.boundPort.withLock { $0 = channel.localAddress?.port ?? 0 }
                continuation.yield(0)
                continuation.finish()
            }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var iterator = ready.makeAsyncIterator()
            _ = await iterator.next()
            return try await body(api)
        }
    }
}
