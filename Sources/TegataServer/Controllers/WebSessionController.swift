import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TegataCore
import TegataWire

/// Cookie mode for web apps: `POST /v1/session` (access token) sets the session cookie,
/// `GET /v1/session` (cookie) returns the user and renews the cookie, `DELETE /v1/session` (cookie,
/// same-party `Origin`) revokes the session and clears the cookie. A missing or dead cookie answers
/// 401 `invalid_token` ("sign in again") and clears the cookie: never a redirect.
struct WebSessionController {
    let sessions: WebSessions
    let cookie: SessionCookie
    let origins: BrowserOrigins
    let clock: any TegataClock
    /// Counts cookie renewals and ended web sessions.
    let metrics: TegataMetrics
    /// Audits ended web sessions.
    let audit: AuditTrail
    /// The issuer's base URL, for the `htu` of DPoP proofs.
    let issuer: String

    func register(on routes: TegataRoutes) {
        let router = routes.open
        let sessions = sessions
        let cookie = cookie
        let origins = origins
        let clock = clock
        let metrics = metrics
        let audit = audit

        router.post("/v1/session") { request, _ in
            let issued = try await sessions.open(accessToken: try request.presentedAccessToken(issuer: issuer))
            return try Self.response(issued, cookie: cookie, now: clock.now())
        }
        router.get("/v1/session") { request, _ in
            do {
                let issued = try await sessions.renew(cookie: cookie.value(in: request))
                metrics.cookieRenewal("renewed")
                return try Self.response(issued, cookie: cookie, now: clock.now())
            } catch let error as TegataError {
                // Refused: no cookie, or one of an ended session (the browser signs in again);
                // failed: the server could not answer (the cookie may still be good).
                metrics.cookieRenewal(error.code == .invalidToken ? "refused" : "failed")
                return Self.failure(error, cookie: cookie)
            }
        }
        router.delete("/v1/session") { request, context in
            try origins.requireSameParty(request)
            let ended: Session
            do {
                ended = try await sessions.end(cookie: cookie.value(in: request))
            } catch let error as TegataError {
                return Self.failure(error, cookie: cookie)
            }
            metrics.revoked("web_session")
            audit.record(AuditEvent(
                .sessionRevoked, at: clock.now(), origin: context.origin, userID: ended.userID, sessionID: ended.id,
                details: ["via": "web_session"]))
            context.logger.info("web session ended")
            return Response(status: .noContent, headers: [.setCookie: cookie.clearing])
        }
    }

    private static func response(_ issued: WebSessions.Issued, cookie: SessionCookie, now: Date) throws -> Response {
        let body = WebSessionResponse(
            user: MeController.body(issued.user, now: now), expiresAt: issued.expiresAt, accessToken: issued.accessToken,
            expiresIn: issued.accessTokenExpiresIn)
        let maxAge = max(0, Int(issued.expiresAt.timeIntervalSince(now)))
        return try JSONResponse.make(body, headers: [.setCookie: cookie.setting(issued.cookie, maxAge: maxAge)])
    }

    /// The error, and a cookie that is dead anyway is cleared so the browser stops sending it.
    private static func failure(_ error: TegataError, cookie: SessionCookie) -> Response {
        var response = ErrorMapping.response(for: error)
        if error.code == .invalidToken { response.headers[.setCookie] = cookie.clearing }
        return response
    }
}

/// The session cookie's name and attributes (`HttpOnly; Path=/; SameSite=…`, `Secure` except for a
/// plain-http loopback issuer, `Max-Age`).
struct SessionCookie: Sendable {
    let name: String
    let attributes: String

    init(configuration: TegataConfiguration) {
        name = configuration.effectiveSessionCookieName
        attributes = "; Path=/; HttpOnly" + (configuration.sessionCookieSecure ? "; Secure" : "")
            + "; SameSite=\(configuration.sessionCookieSameSite.attribute)"
    }

    func setting(_ value: String, maxAge: Int) -> String { "\(name)=\(value); Max-Age=\(maxAge)" + attributes }

    var clearing: String { "\(name)=; Max-Age=0" + attributes }

    /// The cookie's value from the `Cookie` header(s); the first well-formed one if several have the name.
    func value(in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name else { continue }
                let value = String(trimmed[trimmed.index(after: equals)...])
                if value.utf8.count == SessionCookieToken.encodedLength { return value }
            }
        }
        return nil
    }
}
