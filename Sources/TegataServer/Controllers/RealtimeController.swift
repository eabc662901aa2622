import Hummingbird
import TegataCore
import TegataTokens
import TegataWire

/// `POST /v1/realtime/token` and `POST /v1/realtime/subscription-token`: Centrifugo connection and
/// channel tokens for the bearer of a valid access token. 404 unless realtime signing is configured.
struct RealtimeController {
    let tokens: RealtimeTokens?
    let bodyLimit: Int

    func register(on routes: TegataRoutes) {
        let limit = bodyLimit
        guard let tokens else {
            // Off: 404 whoever asks, before any token is looked at.
            for path in ["/v1/realtime/token", "/v1/realtime/subscription-token"] {
                routes.open.post(RouterPath(path)) { _, _ -> Response in throw TegataError.notFound("realtime tokens are not configured") }
            }
            return
        }

        routes.signedInWithUser.post("/v1/realtime/token") { _, context in
            let issued = try tokens.connectionToken(for: try context.requireUser().user)
            return try JSONResponse.make(RealtimeTokenResponse(token: issued.token, expiresIn: issued.expiresIn))
        }
        routes.signedIn.post("/v1/realtime/subscription-token") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeJSON(SubscriptionTokenRequest.self, limit: limit)
            let issued = try tokens.subscriptionToken(channel: body.channel, userID: identity.userID)
            return try JSONResponse.make(RealtimeTokenResponse(token: issued.token, expiresIn: issued.expiresIn))
        }
    }
}
