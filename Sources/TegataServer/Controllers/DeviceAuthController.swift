import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `POST /v1/auth/device`: device sign-in.
struct DeviceAuthController {
    let services: TegataServices

    func register(on router: Router<TegataRequestContext>) {
        let grant = DeviceSignIn(store: services.store, issuer: services.tokenIssuer, clock: services.clock)
        let limit = services.configuration.maxBodySize
        router.post("/v1/auth/device") { request, context in
            let body = try await request.decodeJSON(DeviceSignInRequest.self, limit: limit)
            let result = try await grant.signIn(body)
            context.logger.info(
                result.registered ? "device registered" : "device signed in",
                metadata: ["user_id": "\(result.tokens.user.id)"])
            return try JSONResponse.make(result.tokens, status: result.registered ? .created : .ok, noStore: true)
        }
    }
}
