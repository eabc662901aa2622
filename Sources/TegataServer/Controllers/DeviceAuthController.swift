import Hummingbird
import Logging
import TegataCore
import TegataWire

/// `POST /v1/auth/device`: device sign-in.
struct DeviceAuthController {
    let signIn: DeviceSignIn
    let bodyLimit: Int

    func register(on routes: TegataRoutes) {
        let grant = signIn
        let limit = bodyLimit
        routes.open.post("/v1/auth/device") { request, context in
            let body = try await request.decodeJSON(DeviceSignInRequest.self, limit: limit)
            let result = try await grant.signIn(body, origin: context.origin)
            context.logger.info(
                result.registered ? "device registered" : "device signed in",
                metadata: ["user_id": "\(result.tokens.user.id)"])
            return try JSONResponse.make(result.tokens, status: result.registered ? .created : .ok)
        }
    }
}
