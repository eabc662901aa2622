import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// The signed-in user: `GET /v1/me`, `DELETE /v1/me` (account deletion), and linking external
/// identities, `POST /v1/me/identities` and `DELETE /v1/me/identities/{provider}`.
struct MeController {
    let linking: IdentityLinking
    let accounts: SessionService
    let clock: any TegataClock
    let bodyLimit: Int
    /// Counts account deletions.
    let metrics: TegataMetrics
    /// Audits deletions, links and unlinks.
    let audit: AuditTrail

    func register(on routes: TegataRoutes) {
        let linking = linking
        let accounts = accounts
        let limit = bodyLimit
        let clock = clock
        let metrics = metrics
        let audit = audit
        routes.signedInWithUser.get("/v1/me") { _, context in
            try JSONResponse.make(Self.body(try context.requireUser(), now: clock.now()))
        }
        routes.signedIn.delete("/v1/me") { _, context in
            let identity = try context.requireIdentity()
            try await accounts.deleteAccount(identity.claims)
            metrics.revoked("account_deletion")
            audit.record(AuditEvent(
                .accountDeleted, at: clock.now(), origin: context.origin, userID: identity.userID, sessionID: identity.session.id))
            context.logger.info("account deleted", metadata: ["user_id": "\(identity.userID)"])
            return Response(status: .noContent)
        }
        routes.signedIn.post("/v1/me/identities") { request, context in
            let identity = try context.requireIdentity()
            let parameters = try await OAuthParameters.parse(request, limit: limit)
            let presentation = try parameters.idTokenPresentation()
            let record: UserRecord, created: Bool
            do {
                (record, created) = try await linking.link(presentation, toUser: identity.userID, session: identity.session.id)
            } catch let error as TegataError where error.code != .serverError {
                // The provider's name is the client's text until a link succeeds: only the reason is kept.
                audit.record(AuditEvent(
                    .identityLinked, outcome: .failure, at: clock.now(), origin: context.origin, userID: identity.userID,
                    sessionID: identity.session.id, details: ["reason": error.code.rawValue]))
                throw error
            }
            audit.record(AuditEvent(
                .identityLinked, at: clock.now(), origin: context.origin, userID: identity.userID, sessionID: identity.session.id,
                details: ["provider": presentation.provider, "created": created ? "true" : "false"]))
            return try JSONResponse.make(Self.body(record, now: clock.now()), status: created ? .created : .ok)
        }
        routes.signedIn.delete("/v1/me/identities/:provider") { _, context in
            let identity = try context.requireIdentity()
            let provider = try context.pathParameter("provider")
            _ = try await linking.unlink(provider: provider, fromUser: identity.userID)
            audit.record(AuditEvent(
                .identityUnlinked, at: clock.now(), origin: context.origin, userID: identity.userID, sessionID: identity.session.id,
                details: ["provider": provider]))
            return Response(status: .noContent)
        }
    }

    /// The `/v1/me` body of a user.
    static func body(_ record: UserRecord, now: Date) -> MeResponse {
        MeResponse(
            id: record.user.id, anon: record.user.anon, createdAt: record.user.createdAt,
            identities: record.identities, ent: Entitlement.claim(from: record.entitlements, at: now))
    }
}
