import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// Discovery (RFC 8414 / OpenID) and the JWKS.
struct WellKnownController {
    let issuer: String
    let keys: ServerKeys
    let clock: any TegataClock
    let jwksMaxAge: TimeInterval
    /// Whether the token-exchange grant is offered (an identity provider is configured).
    let tokenExchangeOffered: Bool

    func register(on routes: TegataRoutes) {
        let router = routes.open
        router.get("/.well-known/openid-configuration") { _, _ in try await discovery() }
        router.get("/.well-known/oauth-authorization-server") { _, _ in try await discovery() }
        router.get("/.well-known/jwks.json") { _, _ in
            try JSONResponse.make(keys.ring(at: clock.now()).jwks, headers: cacheHeaders)
        }
    }

    private var cacheHeaders: HTTPFields {
        [.cacheControl: "public, max-age=\(Int(jwksMaxAge))"]
    }

    private func discovery() async throws -> Response {
        let document = DiscoveryDocument(
            issuer: issuer, jwksURI: issuer + "/.well-known/jwks.json",
            tokenEndpoint: issuer + "/oauth/token", revocationEndpoint: issuer + "/oauth/revoke",
            introspectionEndpoint: issuer + "/oauth/introspect",
            grantTypesSupported: ["refresh_token"] + (tokenExchangeOffered ? [OAuthController.tokenExchangeGrant] : []),
            signingAlgorithms: [KeyRing.algorithm], dpopAlgorithms: DPoPChallenge.algorithms)
        return try JSONResponse.make(document, headers: cacheHeaders)
    }
}
