import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `POST /v1/logout`, `GET /v1/sessions`, `DELETE /v1/sessions/{id}`.
struct SessionsController {
    let sessions: SessionService
    /// Bearer authentication for `POST /v1/logout` (it also takes the session cookie).
    let authenticator: AccessTokenAuthenticator
    /// The cookie side of `POST /v1/logout`.
    let webSessions: WebSessions
    let cookie: SessionCookie
    /// CSRF protection of a cookie-authenticated logout.
    let origins: BrowserOrigins
    let bodyLimit: Int
    /// Counts revocations by kind.
    let metrics: TegataMetrics
    /// Audits logouts and ended sessions.
    let audit: AuditTrail
    let clock: any TegataClock
    /// The issuer's base URL, for the `htu` of DPoP proofs.
    let issuer: String

    func register(on routes: TegataRoutes) {
        let sessions = sessions
        let limit = bodyLimit
        let metrics = metrics
        let audit = audit
        let clock = clock

        let authenticator = authenticator
        let webSessions = webSessions
        let cookie = cookie
        let origins = origins
        // A bearer access token, or — without an Authorization header — the session cookie, which
        // must come with an allowed Origin (or Referer) like every cookie-authenticated change.
        routes.open.post("/v1/logout") { request, context in
            let session: Session
            let user: UserRecord
            let byCookie = request.headers[.authorization] == nil && cookie.value(in: request) != nil
            if byCookie {
                try origins.requireSameParty(request)
                do {
                    (session, user) = try await webSessions.caller(cookie: cookie.value(in: request))
                } catch let error as TegataError where error.code == .invalidToken {
                    var refused = ErrorMapping.response(for: error)
                    refused.headers[.setCookie] = cookie.clearing
                    return refused
                }
            } else {
                let (_, authenticated, record) = try await authenticator.authenticate(try request.presentedAccessToken(issuer: issuer), withUser: true)
                guard let record else { throw TegataError.invalidToken("the user of this access token no longer exists") }
                (session, user) = (authenticated, record)
            }
            let body = try await request.decodeOptionalJSON(LogoutRequest.self, limit: limit)
            guard let scope = SessionService.LogoutScope(rawValue: body?.scope ?? "local") else {
                throw TegataError.invalidRequest("scope must be local, global or others")
            }
            try await sessions.logout(session: session, anonymous: user.user.anon, scope: scope)
            metrics.revoked("logout_\(scope.rawValue)")
            audit.record(AuditEvent(
                .logout, at: clock.now(), origin: context.origin, userID: session.userID, sessionID: session.id,
                details: byCookie ? ["scope": scope.rawValue, "via": "web_session"] : ["scope": scope.rawValue]))
            context.logger.info("logout", metadata: ["user_id": "\(session.userID)", "scope": "\(scope.rawValue)"])
            // A logout that ends the cookie's own session clears the cookie too.
            guard byCookie, scope != .others else { return Response(status: .noContent) }
            return Response(status: .noContent, headers: [.setCookie: cookie.clearing])
        }

        routes.signedIn.get("/v1/sessions") { _, context in
            let claims = try context.requireIdentity().claims
            let list = try await sessions.sessions(of: claims).map { session in
                SessionInfo(
                    id: session.id, platform: session.platform, deviceID: session.deviceID, amr: session.amr,
                    createdAt: session.createdAt, lastRefreshedAt: session.lastRefreshedAt, current: session.id == claims.sid)
            }
            return try JSONResponse.make(SessionsResponse(sessions: list))
        }

        routes.signedIn.delete("/v1/sessions/{id}") { _, context in
            let identity = try context.requireIdentity()
            let id = try context.pathParameter("id")
            try await sessions.revokeSession(id: id, of: identity.claims, callerSession: identity.session)
            metrics.revoked("session")
            audit.record(AuditEvent(
                .sessionRevoked, at: clock.now(), origin: context.origin, userID: identity.userID, sessionID: id,
                details: ["via": "sessions_endpoint", "by_session": identity.session.id]))
            return Response(status: .noContent)
        }
    }
}
