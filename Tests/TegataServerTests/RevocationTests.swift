import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataWire
import Testing

let apiClient = TegataConfiguration.ClientCredential(id: "orders-api", secret: "orders-api-secret-0123456789")

func basic(_ id: String, _ secret: String) -> String {
    "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
}

extension TestClientProtocol {
    func revoke(_ token: String, hint: String? = nil) async throws -> TestResponse {
        var fields = ["token": token]
        if let hint { fields["token_type_hint"] = hint }
        return try await execute(uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: form(fields))
    }

    func introspect(_ token: String, authorization: String? = basic(apiClient.id, apiClient.secret)) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let authorization { headers[.authorization] = authorization }
        return try await execute(uri: "/oauth/introspect", method: .post, headers: headers, body: form(["token": token]))
    }

    func feed(_ query: String = "") async throws -> RevocationFeed {
        try await execute(uri: "/v1/revocations\(query)", method: .get, headers: [.authorization: basic(apiClient.id, apiClient.secret)]) {
            #expect($0.status == .ok, "\($0.text)")
            return try $0.decode(RevocationFeed.self)
        }
    }
}

@Suite struct RevokeEndpointTests {
    @Test func aRefreshTokenRevokesItsWholeSessionWhateverTheHint() async throws {
        for hint in [nil, "refresh_token", "access_token", "nonsense"] {
            try await Harness().withApp { client, _ in
                let s = try await client.signIn()
                let other = try await client.signIn()
                let response = try await client.revoke(s.refreshToken, hint: hint)
                #expect(response.status == .ok)
                #expect(try await client.refresh(s.refreshToken).status == .badRequest, "hint \(hint ?? "none")")
                #expect(try await client.me(s.accessToken).status == .unauthorized)
                #expect(try await client.me(other.accessToken).status == .ok)
            }
        }
    }

    @Test func anAccessTokenIsDeniedButItsSessionLivesOn() async throws {
        for hint in [nil, "refresh_token"] {
            try await Harness().withApp { client, _ in
                let s = try await client.signIn()
                #expect(try await client.revoke(s.accessToken, hint: hint).status == .ok)
                #expect(try await client.me(s.accessToken).status == .unauthorized)
                let next = try await client.refreshed(s.refreshToken)
                #expect(try await client.me(next.accessToken).status == .ok)
                #expect(try await client.revoke(s.accessToken).status == .ok, "revoking twice is fine")
            }
        }
    }

    @Test func unknownInvalidOrExpiredTokensStillAnswer200() async throws {
        let harness = Harness { $0.introspectionClients = [apiClient] }
        try await harness.withApp { client, _ in
            let s = try await client.signIn()
            for token in ["garbage", String(repeating: "A", count: 76), "a.b.c", String(s.accessToken.dropLast(3)) + "AAA"] {
                #expect(try await client.revoke(token).status == .ok)
            }
            harness.clock.advance(by: 900 + 31)
            #expect(try await client.revoke(s.accessToken).status == .ok)
            #expect(try await client.feed().events.isEmpty, "nothing was revoked")
            try await client.execute(uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: form([:])) {
                #expect($0.status == .badRequest && $0.errorBody?.error == .invalidRequest)
            }
        }
    }
}

@Suite struct IntrospectionTests {
    let harness = Harness { $0.introspectionClients = [apiClient] }

    @Test func clientsMustAuthenticate() async throws {
        try await harness.withApp { client, _ in
            let s = try await client.signIn()
            for authorization in [nil, basic(apiClient.id, "wrong-secret-000000000"), basic("nobody", apiClient.secret), "Basic !!!", "Bearer \(s.accessToken)"] {
                let response = try await client.introspect(s.accessToken, authorization: authorization)
                #expect(response.status == .unauthorized)
                #expect(response.errorBody?.error == .invalidClient)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="tegata""#)
            }
        }
    }

    @Test func anActiveAccessTokensClaimsThenInactiveOnceRevoked() async throws {
        try await harness.withApp { client, _ in
            let s = try await client.signIn()
            let active = try await client.introspect(s.accessToken)
            #expect(active.headers[.cacheControl] == "no-store")
            let answer = try active.decode(IntrospectionResponse.self)
            #expect(answer.active && answer.tokenType == "access_token" && answer.sub == s.user.id)
            #expect(answer.sid == sid(of: s.accessToken) && answer.clientID == "tegata" && answer.exp == 1_800_000_900)
            #expect(answer.jti == claim("jti", of: s.accessToken) as? String && answer.iat == 1_800_000_000)
            _ = try await client.logout(s.accessToken, scope: "local")
            let inactive = try await client.introspect(s.accessToken)
            #expect(inactive.text == #"{"active":false}"#, "an inactive answer says nothing else")
        }
    }

    @Test func refreshTokensAreActiveOnlyWhileCurrent() async throws {
        try await harness.withApp { client, _ in
            let s = try await client.signIn()
            let answer = try await client.introspect(s.refreshToken).decode(IntrospectionResponse.self)
            #expect(answer.active && answer.tokenType == "refresh_token" && answer.sub == s.user.id)
            let rotated = try await client.refreshed(s.refreshToken)
            #expect(try await client.introspect(s.refreshToken).decode(IntrospectionResponse.self).active == false)
            #expect(try await client.introspect(rotated.refreshToken).decode(IntrospectionResponse.self).active)
            #expect(try await client.introspect("garbage").decode(IntrospectionResponse.self).active == false)
        }
    }

    @Test func withoutConfiguredClientsNobodyMayIntrospect() async throws {
        try await Harness().withApp { client, _ in
            let s = try await client.signIn()
            #expect(try await client.introspect(s.accessToken).status == .unauthorized)
        }
    }
}

@Suite struct RevocationFeedTests {
    let harness = Harness { $0.introspectionClients = [apiClient] }

    @Test func theFeedNeedsClientCredentials() async throws {
        try await harness.withApp { client, _ in
            try await client.execute(uri: "/v1/revocations", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/revocations", method: .get, headers: [.authorization: basic(apiClient.id, "nope-nope-nope-nope")]) {
                #expect($0.status == .unauthorized && $0.errorBody?.error == .invalidClient)
            }
            for bad in ["?after=abc", "?after=-1", "?after=1&wait=x", "?after=1&wait=-2"] {
                try await client.execute(uri: "/v1/revocations\(bad)", method: .get, headers: [.authorization: basic(apiClient.id, apiClient.secret)]) {
                    #expect($0.status == .badRequest, "\(bad)")
                }
            }
        }
    }

    @Test func everyKindOfRevocationAppearsOnceWithItsHorizon() async throws {
        try await harness.withApp { client, _ in
            let start = try await client.feed()
            #expect(start.events.isEmpty)
            let a = try await client.signIn("device-aaaa")
            let b = try await client.signIn("device-bbbb")
            let c = try await client.signIn("device-cccc")
            let d = try await client.signIn("device-dddd")
            _ = try await client.logout(a.accessToken, scope: "local")
            _ = try await client.logout(b.accessToken, scope: "global")
            _ = try await client.revoke(c.accessToken)
            _ = try await client.authorized("/v1/me", .delete, token: d.accessToken)
            let feed = try await client.feed("?after=\(start.cursor)")
            let until = Date(timeIntervalSince1970: 1_800_000_000 + 900 + 30)
            #expect(feed.events == [
                FeedEvent(type: "session", sid: sid(of: a.accessToken), until: until),
                FeedEvent(type: "user", sub: b.user.id, tv: 1, until: until),
                FeedEvent(type: "token", jti: claim("jti", of: c.accessToken) as? String, until: until),
                FeedEvent(type: "user", sub: d.user.id, tv: 1, until: until),
            ])
            #expect(try await client.feed("?after=\(feed.cursor)").events.isEmpty)
            #expect(try await client.feed().events.count == 4, "without a cursor: every retained event")
        }
    }

    @Test func replaysAndOtherScopesAreSessionEvents() async throws {
        let harness = self.harness
        try await harness.withApp { client, _ in
            let s = try await client.signIn()
            let t = try await client.signIn()
            let u = try await client.signIn()
            _ = try await client.logout(u.accessToken, scope: "others")
            let replayed = try await client.signIn()
            _ = try await client.refreshed(replayed.refreshToken)
            harness.clock.advance(by: 11)
            _ = try await client.refresh(replayed.refreshToken)
            let sids = try await client.feed().events.map { $0.sid }
            #expect(sids == [sid(of: s.accessToken), sid(of: t.accessToken), sid(of: replayed.accessToken)])
        }
    }

    @Test func eventsDisappearOnceEveryTokenTheyAffectHasExpired() async throws {
        let harness = self.harness
        try await harness.withApp { client, services in
            let s = try await client.signIn()
            _ = try await client.logout(s.accessToken, scope: "local")
            harness.clock.advance(by: 929)
            #expect(try await client.feed().events.count == 1)
            harness.clock.advance(by: 1)
            #expect(try await client.feed().events.isEmpty)
            let pruned = try await services.store.prune(now: harness.clock.now(), idleLifetime: 30 * 86_400, webhookEventsBefore: .distantPast, limit: 100)
            #expect(pruned == PruneResult(sessions: 1, events: 1))
        }
    }

    @Test func aLongPollReturnsAsSoonAsSomethingIsRevoked() async throws {
        try await Harness { $0.introspectionClients = [apiClient]; $0.port = 0 }.withApp(.live) { client, _ in
            let s = try await client.signIn()
            let cursor = try await client.feed().cursor
            let started = ContinuousClock.now
            async let waited = client.feed("?after=\(cursor)&wait=20")
            try await Task.sleep(for: .milliseconds(300))
            // A second connection: the first one is busy with the long poll.
            try await TestClient.withClient(host: "127.0.0.1", port: try #require(client.port)) { other in
                let response = try await other.execute(.init(
                    "/v1/logout", method: .post, headers: [.authorization: "Bearer \(s.accessToken)"]))
                #expect(response.status == .noContent)
            }
            let feed = try await waited
            #expect(feed.events.map(\.sid) == [sid(of: s.accessToken)])
            #expect(ContinuousClock.now - started < .seconds(5), "returned on the event, not at the deadline")
            let quiet = ContinuousClock.now
            _ = try await client.feed("?after=\(feed.cursor)&wait=1")
            #expect(ContinuousClock.now - quiet >= .milliseconds(900), "waits when there is nothing")
            // A cursor this feed never handed out (beyond its newest event) is moved back at once,
            // not after the wait: nothing committed meanwhile can be skipped.
            let bogus = ContinuousClock.now
            let movedBack = try await client.feed("?after=\(Int64(feed.cursor)! + 1_000_000)&wait=20")
            #expect(movedBack.cursor == feed.cursor && movedBack.events.isEmpty)
            #expect(ContinuousClock.now - bogus < .seconds(5), "answered at once, not at the deadline")
        }
    }
}

@Suite struct PruneTests {
    @Test func endedSessionsArePrunedAndLiveOnesKept() async throws {
        let harness = Harness { $0.refreshIdleTTL = 600; $0.refreshAbsoluteTTL = 3_600 }
        try await harness.withApp { client, services in
            let idle = try await client.signIn("device-idle")
            let revoked = try await client.signIn("device-revoked")
            let live = try await client.signIn("device-live")
            _ = try await client.logout(revoked.accessToken, scope: "local")
            harness.clock.advance(by: 500)
            let rotated = try await client.refreshed(live.refreshToken)
            harness.clock.advance(by: 100)
            let result = try await services.store.prune(now: harness.clock.now(), idleLifetime: 600, webhookEventsBefore: .distantPast, limit: 100)
            #expect(result.sessions == 2)
            #expect(try await client.refresh(idle.refreshToken).status == .badRequest)
            let list = try await client.authorized("/v1/sessions", .get, token: try await client.refreshed(rotated.refreshToken).accessToken)
            #expect(try list.decode(SessionsResponse.self).sessions.count == 1)
        }
    }

    @Test func pruningWorksInBatches() async throws {
        let harness = Harness()
        try await harness.withApp { client, services in
            for index in 0..<7 {
                let s = try await client.signIn("device-\(1000 + index)")
                _ = try await client.logout(s.accessToken, scope: "local")
            }
            #expect(try await services.store.prune(now: harness.clock.now(), idleLifetime: 86_400, webhookEventsBefore: .distantPast, limit: 3).sessions == 3)
            #expect(try await services.store.prune(now: harness.clock.now(), idleLifetime: 86_400, webhookEventsBefore: .distantPast, limit: 3).sessions == 3)
            #expect(try await services.store.prune(now: harness.clock.now(), idleLifetime: 86_400, webhookEventsBefore: .distantPast, limit: 3).sessions == 1)
        }
    }
}
