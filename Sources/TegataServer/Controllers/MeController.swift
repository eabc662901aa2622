import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `GET /v1/me`: the signed-in user.
struct MeController {
    let services: TegataServices

    func register(on router: Router<TegataRequestContext>) {
        let authenticator = services.authenticator
        router.get("/v1/me") { request, _ in
            let (_, _, user) = try await authenticator.authenticate(try request.bearerToken(), withUser: true)
            guard let record = user else {
                throw TegataError.invalidToken("the user of this access token no longer exists")
            }
            let body = MeResponse(
                id: record.user.id, anon: record.user.anon, createdAt: record.user.createdAt,
                identities: record.identities,
                ent: Entitlement.claim(from: record.entitlements, at: services.clock.now()))
            return try JSONResponse.make(body, noStore: true)
        }
    }
}
