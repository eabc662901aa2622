import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `POST /v1/logout`, `GET /v1/sessions`, `DELETE /v1/sessions/{id}`.
struct SessionsController {
    let sessions: SessionService
    let bodyLimit: Int
    /// Counts revocations by kind.
    let metrics: TegataMetrics
    /// Audits logouts and ended sessions.
    let audit: AuditTrail
    let clock: any TegataClock

    func register(on routes: TegataRoutes) {
        let sessions = sessions
        let limit = bodyLimit
        let metrics = metrics
        let audit = audit
        let clock = clock

        routes.signedInWithUser.post("/v1/logout") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeOptionalJSON(LogoutRequest.self, limit: limit)
            guard let scope = SessionService.LogoutScope(rawValue: body?.scope ?? "local") else {
                throw TegataError.invalidRequest("scope must be local, global or others")
            }
            try await sessions.logout(
                identity.claims, session: identity.session, anonymous: try context.requireUser().user.anon, scope: scope)
            metrics.revoked("logout_\(scope.rawValue)")
            audit.record(AuditEvent(
                .logout, at: clock.now(), origin: context.origin, userID: identity.userID, sessionID: identity.session.id,
                details: ["scope": scope.rawValue]))
            context.logger.info("logout", metadata: ["user_id": "\(identity.userID)", "scope": "\(scope.rawValue)"])
            return Response(status: .noContent)
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
