import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `GET /v1/me`: the signed-in user; `POST /v1/me/identities` and
/// `DELETE /v1/me/identities/{provider}`: linking external identities.
struct MeController {
    let services: TegataServices

    func register(on router: Router<TegataRequestContext>) {
        let authenticator = services.authenticator
        let linking = services.identityLinking
        let limit = services.configuration.maxBodySize
        let clock = services.clock
        router.get("/v1/me") { request, _ in
            let (_, _, user) = try await authenticator.authenticate(try request.bearerToken(), withUser: true)
            guard let record = user else {
                throw TegataError.invalidToken("the user of this access token no longer exists")
            }
            return try JSONResponse.make(Self.body(record, now: clock.now()), noStore: true)
        }
        router.post("/v1/me/identities") { request, _ in
            let (claims, _, _) = try await authenticator.authenticate(try request.bearerToken())
            let parameters = try await OAuthParameters.parse(request, limit: limit)
            let (record, created) = try await linking.link(try parameters.idTokenPresentation(), toUser: claims.sub)
            return try JSONResponse.make(Self.body(record, now: clock.now()), status: created ? .created : .ok, noStore: true)
        }
        router.delete("/v1/me/identities/:provider") { request, context in
            let (claims, _, _) = try await authenticator.authenticate(try request.bearerToken())
            let provider = try context.parameters.require("provider")
            _ = try await linking.unlink(provider: provider, fromUser: claims.sub)
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    /// The `/v1/me` body of a user.
    static func body(_ record: UserRecord, now: Date) -> MeResponse {
        MeResponse(
            id: record.user.id, anon: record.user.anon, createdAt: record.user.createdAt,
            identities: record.identities, ent: Entitlement.claim(from: record.entitlements, at: now))
    }
}
