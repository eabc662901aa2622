import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataWire
import Testing

/// A harness whose issuer is public https (so the cookie is Secure and `__Host-`), with one web origin.
func webHarness(_ adjust: @escaping (inout TegataConfiguration) -> Void = { _ in }) -> Harness {
    Harness {
        $0.issuer = "https://auth.example.com"
        $0.audience = $0.issuer
        $0.allowedOrigins = ["https://app.example.com"]
        adjust(&$0)
    }
}

/// A parsed `Set-Cookie` header.
struct SetCookie {
    let name: String
    let value: String
    let attributes: [String: String]

    init?(_ header: String?) {
        guard let header else { return nil }
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = parts.first, let equals = first.firstIndex(of: "=") else { return nil }
        name = String(first[..<equals])
        value = String(first[first.index(after: equals)...])
        var attributes: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            attributes[pair[0].lowercased()] = pair.count == 2 ? pair[1] : ""
        }
        self.attributes = attributes
    }

    var maxAge: Int? { attributes["max-age"].flatMap { Int($0) } }
}

extension TestClientProtocol {
    func openWebSession(_ accessToken: String) async throws -> (SetCookie, TestResponse) {
        let response = try await execute(uri: "/v1/session", method: .post, headers: [.authorization: "Bearer \(accessToken)"])
        #expect(response.status == .ok, "\(response.text)")
        return (try #require(SetCookie(response.headers[.setCookie])), response)
    }

    func webSession(_ cookie: SetCookie?, extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let cookie { headers[.cookie] = "theme=dark; \(cookie.name)=\(cookie.value)" }
        return try await execute(uri: "/v1/session", method: .get, headers: headers)
    }

    func endWebSession(_ cookie: SetCookie, origin: String? = "https://app.example.com", referer: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.cookie: "\(cookie.name)=\(cookie.value)"]
        if let origin { headers[.origin] = origin }
        if let referer { headers[.referer] = referer }
        return try await execute(uri: "/v1/session", method: .delete, headers: headers)
    }
}

@Suite struct WebSessionTests {
    @Test func postingAnAccessTokenSetsAnHttpOnlySecureHostCookie() async throws {
        let harness = webHarness()
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            let (cookie, response) = try await client.openWebSession(tokens.accessToken)
            #expect(cookie.name == "__Host-tegata_session")
            #expect(cookie.value.count == SessionCookieToken.encodedLength && !cookie.value.contains(sid(of: tokens.accessToken)))
            #expect(cookie.attributes["httponly"] == "" && cookie.attributes["secure"] == "")
            #expect(cookie.attributes["samesite"] == "Lax" && cookie.attributes["path"] == "/")
            #expect(cookie.attributes["domain"] == nil)
            #expect(cookie.maxAge == 7 * 86_400)
            #expect(response.headers[.cacheControl] == "no-store")
            let body = try response.decode(WebSessionResponse.self)
            #expect(body.user.id == tokens.user.id)
            #expect(body.expiresAt == harness.clock.now().addingTimeInterval(7 * 86_400))
        }
    }

    @Test func aPlainHTTPLoopbackIssuerDropsSecureAndTheHostPrefix() async throws {
        try await Harness { $0.sessionCookieSameSite = .strict }.withApp { client, _ in
            let (cookie, _) = try await client.openWebSession(try await client.signIn().accessToken)
            #expect(cookie.name == "tegata_session" && cookie.attributes["secure"] == nil && cookie.attributes["samesite"] == "Strict")
        }
        try await webHarness { $0.sessionCookieName = "__Host-app_sid"; $0.sessionCookieSameSite = .none }.withApp { client, _ in
            let (cookie, _) = try await client.openWebSession(try await client.signIn().accessToken)
            #expect(cookie.name == "__Host-app_sid" && cookie.attributes["secure"] == "" && cookie.attributes["samesite"] == "None")
        }
    }

    @Test func readingRenewsTheCookieAndKeepsTheSessionFromIdling() async throws {
        let harness = webHarness { $0.refreshIdleTTL = 2 * 86_400 }
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            var (cookie, _) = try await client.openWebSession(tokens.accessToken)
            for _ in 0..<3 {
                // 1.5 days at a time: past the 2-day idle end of the session unless reads renew it.
                harness.clock.advance(by: 1.5 * 86_400)
                let response = try await client.webSession(cookie)
                #expect(response.status == .ok, "\(response.text)")
                let renewed = try #require(SetCookie(response.headers[.setCookie]))
                #expect(renewed.value != cookie.value && renewed.maxAge == 7 * 86_400)
                #expect(try response.decode(WebSessionResponse.self).expiresAt == harness.clock.now().addingTimeInterval(7 * 86_400))
                cookie = renewed
            }
        }
    }

    @Test func renewalNeverPassesTheSessionsAbsoluteEnd() async throws {
        let harness = webHarness { $0.refreshIdleTTL = 3 * 86_400; $0.refreshAbsoluteTTL = 3 * 86_400 }
        try await harness.withApp { client, _ in
            var (cookie, _) = try await client.openWebSession(try await client.signIn().accessToken)
            #expect(cookie.maxAge == 3 * 86_400)
            harness.clock.advance(by: 2 * 86_400 + 3_600)
            let late = try await client.webSession(cookie)
            cookie = try #require(SetCookie(late.headers[.setCookie]))
            #expect(cookie.maxAge == 86_400 - 3_600)
            harness.clock.advance(by: 86_400 - 3_600)
            let ended = try await client.webSession(cookie)
            #expect(ended.status == .unauthorized)
        }
    }

    @Test func aMissingExpiredOrForgedCookieSays401SignInAgainAndClearsIt() async throws {
        let harness = webHarness()
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            let (cookie, _) = try await client.openWebSession(tokens.accessToken)
            var tampered = Array(cookie.value)
            tampered[10] = tampered[10] == "A" ? "B" : "A"
            let cases: [(String, SetCookie?)] = [
                ("missing", nil),
                ("forged", SetCookie("\(cookie.name)=\(String(tampered))")),
                ("an access token", SetCookie("\(cookie.name)=\(tokens.accessToken)")),
                ("another cookie's name", SetCookie("tegata_session=\(cookie.value)")),
            ]
            for (label, presented) in cases {
                let response = try await client.webSession(presented)
                #expect(response.status == .unauthorized, "\(label)")
                #expect(response.errorBody?.error == .invalidToken && response.errorBody?.errorDescription?.contains("sign in again") == true, "\(label)")
                #expect(response.headers[.location] == nil)
                #expect(SetCookie(response.headers[.setCookie])?.maxAge == 0, "\(label)")
            }
            harness.clock.advance(by: 7 * 86_400)
            let expired = try await client.webSession(cookie)
            #expect(expired.status == .unauthorized && SetCookie(expired.headers[.setCookie])?.maxAge == 0)
        }
    }

    @Test func noRenewalForARevokedSessionAMovedTokenVersionOrADeletedUser() async throws {
        try await webHarness().withApp { client, _ in
            let a = try await client.signIn("device-a-0001")
            let (cookieA, _) = try await client.openWebSession(a.accessToken)
            #expect(try await client.logout(a.accessToken, scope: "local").status == .noContent)
            #expect(try await client.webSession(cookieA).status == .unauthorized)

            let b = try await client.signIn("device-b-0001")
            let (cookieB, _) = try await client.openWebSession(b.accessToken)
            let other = try await client.signIn("device-b-0001")
            #expect(try await client.logout(other.accessToken, scope: "global").status == .noContent)
            #expect(try await client.webSession(cookieB).status == .unauthorized)

            let c = try await client.signIn("device-c-0001")
            let (cookieC, _) = try await client.openWebSession(c.accessToken)
            #expect(try await client.authorized("/v1/me", .delete, token: c.accessToken).status == .noContent)
            #expect(try await client.webSession(cookieC).status == .unauthorized)
        }
    }

    @Test func deleteRevokesTheSessionAndClearsTheCookieButOnlyFromAnAllowedOrigin() async throws {
        try await webHarness().withApp { client, _ in
            let tokens = try await client.signIn()
            let (cookie, _) = try await client.openWebSession(tokens.accessToken)
            for (origin, referer) in [(nil, nil), ("https://evil.example", nil), ("null", nil), (nil, "https://evil.example/page"),
                                      ("https://app.example.com.evil.example", nil), ("http://app.example.com", nil)] as [(String?, String?)] {
                let refused = try await client.endWebSession(cookie, origin: origin, referer: referer)
                #expect(refused.status == .forbidden && refused.errorBody?.error == .forbidden, "\(origin ?? "-") \(referer ?? "-")")
            }
            #expect(try await client.webSession(cookie).status == .ok, "refused requests changed nothing")
            let ended = try await client.endWebSession(cookie, origin: nil, referer: "https://app.example.com/settings?x=1")
            #expect(ended.status == .noContent)
            #expect(SetCookie(ended.headers[.setCookie])?.maxAge == 0)
            #expect(try await client.webSession(cookie).status == .unauthorized)
            #expect(try await client.me(tokens.accessToken).status == .unauthorized, "the session's access tokens die with it")
        }
    }

    /// Only `GET`/`DELETE /v1/session` and `POST /v1/logout` take the cookie.
    @Test func aCookieNeverAuthenticatesTheBearerEndpoints() async throws {
        try await webHarness { $0.realtimeSigning = .es256 }.withApp { client, _ in
            let tokens = try await client.signIn()
            let (cookie, _) = try await client.openWebSession(tokens.accessToken)
            let headers: HTTPFields = [.cookie: "\(cookie.name)=\(cookie.value)", .origin: "https://app.example.com"]
            for (uri, method) in [("/v1/me", HTTPRequest.Method.get), ("/v1/sessions", .get),
                                  ("/v1/session", .post), ("/v1/realtime/token", .post), ("/v1/me", .delete)] {
                let response = try await client.execute(uri: uri, method: method, headers: headers)
                #expect(response.status == .unauthorized && response.errorBody?.error == .invalidToken, "\(uri)")
            }
            #expect(try await client.webSession(cookie).status == .ok)
        }
    }

    /// `GET` and `POST /v1/session` give the page a short-lived access token of the cookie's
    /// session (never a refresh token): usable as a bearer, capped by the cookie, dead with the session.
    @Test func theSessionGivesThePageAShortLivedAccessTokenOfItsOwnSession() async throws {
        let harness = webHarness { $0.sessionAccessTokenTTL = 120; $0.sessionCookieTTL = 3_600 }
        try await harness.withApp { client, _ in
            let tokens = try await client.signIn()
            let (cookie, opened) = try await client.openWebSession(tokens.accessToken)
            let openedBody = try opened.decode(WebSessionResponse.self)
            #expect(openedBody.expiresIn == 120 && openedBody.tokenType == "Bearer")
            #expect(!opened.text.contains("refresh_token"))
            let read = try await client.webSession(cookie)
            let body = try read.decode(WebSessionResponse.self)
            #expect(body.expiresIn == 120)
            #expect(sid(of: body.accessToken) == sid(of: tokens.accessToken), "the cookie's own session")
            #expect(body.accessToken != openedBody.accessToken, "a fresh token on every read")
            let me = try await client.me(body.accessToken)
            #expect(me.status == .ok)
            let meBody = try me.decode(MeResponse.self)
            #expect(meBody.id == tokens.user.id)
            // Near the cookie's end the token lives no longer than the cookie.
            harness.clock.advance(by: 3_600 - 50)
            let late = try await client.webSession(try #require(SetCookie(read.headers[.setCookie])))
            #expect(late.status == .ok)
            // Renewed: the cookie slid to another hour, so the token has its full two minutes.
            #expect(try late.decode(WebSessionResponse.self).expiresIn == 120)
            // Ended with the session.
            let current = try #require(SetCookie(late.headers[.setCookie]))
            let pageToken = try late.decode(WebSessionResponse.self).accessToken
            #expect(try await client.endWebSession(current).status == .noContent)
            #expect(try await client.me(pageToken).status == .unauthorized)
        }
        // Capped by the cookie: a cookie that ends in 90 s gives a 90-second token, whatever the setting.
        let capped = webHarness { $0.sessionAccessTokenTTL = 600; $0.refreshAbsoluteTTL = 90 }
        try await capped.withApp { client, _ in
            let (_, opened) = try await client.openWebSession(try await client.signIn().accessToken)
            let body = try opened.decode(WebSessionResponse.self)
            #expect(body.expiresIn == 90 && body.expiresAt == capped.clock.now().addingTimeInterval(90))
        }
    }

    /// `POST /v1/logout` takes the cookie too, CSRF-checked like `DELETE /v1/session`, with every scope.
    @Test func logoutTakesTheCookieFromAnAllowedOriginWithEveryScope() async throws {
        try await webHarness().withApp { client, _ in
            func logout(_ cookie: SetCookie, scope: String?, origin: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.cookie: "\(cookie.name)=\(cookie.value)", .contentType: "application/json"]
                if let origin { headers[.origin] = origin }
                let body = scope.map { #"{"scope":"\#($0)"}"# } ?? "{}"
                return try await client.execute(uri: "/v1/logout", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            // local: this session only; refused without an allowed origin.
            let first = try await client.signIn()
            let (cookie, _) = try await client.openWebSession(first.accessToken)
            for origin in [nil, "https://evil.example", "null"] as [String?] {
                let refused = try await logout(cookie, scope: nil, origin: origin)
                #expect(refused.status == .forbidden && refused.errorBody?.error == .forbidden, "\(origin ?? "-")")
            }
            #expect(try await client.webSession(cookie).status == .ok, "a refused logout changed nothing")
            let ended = try await logout(cookie, scope: "local", origin: "https://app.example.com")
            #expect(ended.status == .noContent && SetCookie(ended.headers[.setCookie])?.maxAge == 0)
            #expect(try await client.webSession(cookie).status == .unauthorized)
            #expect(try await client.me(first.accessToken).status == .unauthorized)
            // A dead cookie: 401, cleared.
            let again = try await logout(cookie, scope: nil, origin: "https://app.example.com")
            #expect(again.status == .unauthorized && again.errorBody?.error == .invalidToken && SetCookie(again.headers[.setCookie])?.maxAge == 0)

            // global and others, for a user with two sessions.
            let device = try await client.signIn("web-global-device")
            let second = try await client.signIn("web-global-device")
            let (webCookie, _) = try await client.openWebSession(device.accessToken)
            let others = try await logout(webCookie, scope: "others", origin: "https://app.example.com")
            #expect(others.status == .noContent && others.headers[.setCookie] == nil, "others keeps the cookie's own session")
            #expect(try await client.me(second.accessToken).status == .unauthorized)
            #expect(try await client.webSession(webCookie).status == .ok)
            let global = try await logout(webCookie, scope: "global", origin: "https://app.example.com")
            #expect(global.status == .noContent && SetCookie(global.headers[.setCookie])?.maxAge == 0)
            #expect(try await client.webSession(webCookie).status == .unauthorized)
            #expect(try await client.me(device.accessToken).status == .unauthorized)
            // A bearer still works as before, and wins over a cookie sent with it.
            let bearer = try await client.signIn("web-bearer-device")
            let (otherCookie, _) = try await client.openWebSession(try await client.signIn("web-bearer-device").accessToken)
            let byBearer = try await client.execute(uri: "/v1/logout", method: .post, headers: [
                .authorization: "Bearer \(bearer.accessToken)", .cookie: "\(otherCookie.name)=\(otherCookie.value)",
            ])
            #expect(byBearer.status == .noContent && byBearer.headers[.setCookie] == nil)
            #expect(try await client.me(bearer.accessToken).status == .unauthorized)
            #expect(try await client.webSession(otherCookie).status == .ok, "the cookie's session was not the one logged out")
        }
    }

    @Test func corsAnswersOnlyAllowedOriginsWithCredentials() async throws {
        try await webHarness().withApp { client, _ in
            let preflight = try await client.execute(uri: "/v1/session", method: .options, headers: [
                .origin: "https://app.example.com", .accessControlRequestMethod: "DELETE",
            ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(preflight.headers[.accessControlAllowCredentials] == "true")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("DELETE") == true)
            let foreign = try await client.execute(uri: "/v1/session", method: .options, headers: [
                .origin: "https://evil.example", .accessControlRequestMethod: "DELETE",
            ])
            #expect(foreign.status == .forbidden && foreign.headers[.accessControlAllowOrigin] == nil)

            let tokens = try await client.signIn()
            let allowed = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(tokens.accessToken)", .origin: "https://app.example.com"])
            #expect(allowed.status == .ok && allowed.headers[.accessControlAllowOrigin] == "https://app.example.com" && allowed.headers[.vary] == "Origin")
            let other = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(tokens.accessToken)", .origin: "https://evil.example"])
            #expect(other.status == .ok && other.headers[.accessControlAllowOrigin] == nil && other.headers[.accessControlAllowCredentials] == nil)
            let errorResponse = try await client.execute(uri: "/v1/me", method: .get, headers: [.origin: "https://app.example.com"])
            #expect(errorResponse.status == .unauthorized && errorResponse.headers[.accessControlAllowOrigin] == "https://app.example.com")
        }
    }

    @Test func anAllowedAppWebViewOriginGetsCORSAnswers() async throws {
        try await webHarness { $0.allowedOrigins = ["capacitor://localhost", "ionic://localhost"] }.withApp { client, _ in
            let tokens = try await client.signIn()
            for origin in ["capacitor://localhost", "ionic://localhost"] {
                let preflight = try await client.execute(uri: "/v1/me", method: .options, headers: [
                    .origin: origin, .accessControlRequestMethod: "GET", .accessControlRequestHeaders: "authorization",
                ])
                #expect(preflight.status == .noContent && preflight.headers[.accessControlAllowOrigin] == origin, "\(origin)")
                let answer = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(tokens.accessToken)", .origin: origin])
                #expect(answer.status == .ok && answer.headers[.accessControlAllowOrigin] == origin, "\(origin)")
            }
            let other = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(tokens.accessToken)", .origin: "capacitor://evil"])
            #expect(other.status == .ok && other.headers[.accessControlAllowOrigin] == nil)
        }
    }

    /// A cookie renewal keeps the session in use but is not a rotation: the preceding refresh token,
    /// presented right after a renewal and long after its own grace interval, is a replay.
    @Test func aCookieRenewalDoesNotReopenTheRefreshGraceWindow() async throws {
        let harness = webHarness()
        try await harness.withApp { client, _ in
            let first = try await client.signIn()
            let second = try await client.refreshed(first.refreshToken)
            harness.clock.advance(by: 60)  // far past the 10 s grace of `first.refreshToken`
            let (cookie, _) = try await client.openWebSession(second.accessToken)
            #expect(try await client.webSession(cookie).status == .ok)  // the renewal touches the session
            let replay = try await client.refresh(first.refreshToken)
            #expect(replay.status == .badRequest && replay.errorBody?.error == .invalidGrant, "\(replay.text)")
            // A replay ends the whole session: the current token and the cookie die with it.
            #expect(try await client.refresh(second.refreshToken).status == .badRequest)
            #expect(try await client.webSession(cookie).status == .unauthorized)
        }
    }
}
