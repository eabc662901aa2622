import Hummingbird
import TegataCore
import TegataTokens
import TegataWire

/// `POST /v1/realtime/token` and `POST /v1/realtime/subscription-token`: Centrifugo connection and
/// channel tokens for the bearer of a valid access token. 404 unless realtime signing is configured.
struct RealtimeController {
    let services: TegataServices

    func register(on router: Router<TegataRequestContext>) {
        let authenticator = services.authenticator
        let tokens = services.realtimeTokens
        let limit = services.configuration.maxBodySize

        router.post("/v1/realtime/token") { request, _ in
            guard let tokens else { throw TegataError.notFound("realtime tokens are not configured") }
            let (_, _, user) = try await authenticator.authenticate(try request.bearerToken(), withUser: true)
            guard let user else { throw TegataError.invalidToken("the user of this access token no longer exists") }
            let issued = try tokens.connectionToken(for: user.user)
            return try JSONResponse.make(RealtimeTokenResponse(token: issued.token, expiresIn: issued.expiresIn), noStore: true)
        }
        router.post("/v1/realtime/subscription-token") { request, _ in
            guard let tokens else { throw TegataError.notFound("realtime tokens are not configured") }
            let (claims, _, _) = try await authenticator.authenticate(try request.bearerToken())
            let body = try await request.decodeJSON(SubscriptionTokenRequest.self, limit: limit)
            let issued = try tokens.subscriptionToken(channel: body.channel, userID: claims.sub)
            return try JSONResponse.make(RealtimeTokenResponse(token: issued.token, expiresIn: issued.expiresIn), noStore: true)
        }
    }
}
