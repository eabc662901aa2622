import Hummingbird
import Logging
import TegataCore
import TegataWire

/// `POST /v1/auth/device`: device sign-in; `POST /v1/auth/device/claim`: a legacy device claim.
struct DeviceAuthController {
    let signIn: DeviceSignIn
    let dpop: DPoPChecker
    /// The issuer's base URL, for the `htu` of DPoP proofs.
    let issuer: String
    let bodyLimit: Int

    func register(on routes: TegataRoutes) {
        let grant = signIn
        let limit = bodyLimit
        let dpop = dpop
        let issuer = issuer
        routes.open.post("/v1/auth/device") { request, context in
            let body = try await request.decodeJSON(DeviceSignInRequest.self, limit: limit)
            let key = try await dpop.key(of: request.dpopRequest(issuer: issuer))
            let result = try await grant.signIn(body, origin: context.origin, dpopKey: key)
            context.logger.info(
                result.registered ? "device registered" : "device signed in",
                metadata: ["user_id": "\(result.tokens.user.id)"])
            return try JSONResponse.make(result.tokens, status: result.registered ? .created : .ok)
        }
        // A legacy device claim (docs/migration.md): open only while TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL says.
        routes.open.post("/v1/auth/device/claim") { request, context in
            let body = try await request.decodeJSON(DeviceClaimRequest.self, limit: limit)
            let key = try await dpop.key(of: request.dpopRequest(issuer: issuer))
            let result = try await grant.claim(body, origin: context.origin, dpopKey: key)
            context.logger.info(
                result.claimed ? "legacy device claimed" : "claimed device signed in",
                metadata: ["user_id": "\(result.tokens.user.id)"])
            return try JSONResponse.make(result.tokens, status: .ok)
        }
    }
}
