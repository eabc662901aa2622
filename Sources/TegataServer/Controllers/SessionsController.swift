import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `POST /v1/logout`, `GET /v1/sessions`, `DELETE /v1/sessions/{id}`, `DELETE /v1/me`.
struct SessionsController {
    let services: TegataServices

    func register(on router: Router<TegataRequestContext>) {
        let authenticator = services.authenticator
        let sessions = services.sessionService
        let limit = services.configuration.maxBodySize

        router.post("/v1/logout") { request, context in
            let (claims, session, user) = try await authenticator.authenticate(try request.bearerToken(), withUser: true)
            let body = try await request.decodeOptionalJSON(LogoutRequest.self, limit: limit)
            guard let scope = SessionService.LogoutScope(rawValue: body?.scope ?? "local") else {
                throw TegataError.invalidRequest("scope must be local, global or others")
            }
            try await sessions.logout(claims, session: session, anonymous: user?.user.anon ?? claims.anon, scope: scope)
            context.logger.info("logout", metadata: ["user_id": "\(claims.sub)", "scope": "\(scope.rawValue)"])
            return Response(status: .noContent)
        }

        router.get("/v1/sessions") { request, _ in
            let (claims, _, _) = try await authenticator.authenticate(try request.bearerToken())
            let list = try await sessions.sessions(of: claims).map { session in
                SessionInfo(
                    id: session.id, platform: session.platform, deviceID: session.deviceID, amr: session.amr,
                    createdAt: session.createdAt, lastRefreshedAt: session.lastRefreshedAt, current: session.id == claims.sid)
            }
            return try JSONResponse.make(SessionsResponse(sessions: list), noStore: true)
        }

        router.delete("/v1/sessions/{id}") { request, context in
            let (claims, session, _) = try await authenticator.authenticate(try request.bearerToken())
            let id = try context.parameters.require("id")
            try await sessions.revokeSession(id: id, of: claims, callerSession: session)
            return Response(status: .noContent)
        }

        router.delete("/v1/me") { request, context in
            let (claims, _, _) = try await authenticator.authenticate(try request.bearerToken())
            try await sessions.deleteAccount(claims)
            context.logger.info("account deleted", metadata: ["user_id": "\(claims.sub)"])
            return Response(status: .noContent)
        }
    }
}
