import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// Discovery (RFC 8414 / OpenID) and the JWKS.
struct WellKnownController {
    let services: TegataServices

    func register(on router: Router<TegataRequestContext>) {
        router.get("/.well-known/openid-configuration") { _, _ in try await discovery() }
        router.get("/.well-known/oauth-authorization-server") { _, _ in try await discovery() }
        router.get("/.well-known/jwks.json") { _, _ in
            try JSONResponse.make(services.keyRing.jwks, headers: cacheHeaders)
        }
    }

    private var cacheHeaders: HTTPFields {
        [.cacheControl: "public, max-age=\(Int(services.configuration.jwksMaxAge))"]
    }

    private func discovery() async throws -> Response {
        let issuer = services.configuration.issuer
        let document = DiscoveryDocument(
            issuer: issuer, jwksURI: issuer + "/.well-known/jwks.json",
            tokenEndpoint: issuer + "/oauth/token", revocationEndpoint: issuer + "/oauth/revoke",
            introspectionEndpoint: issuer + "/oauth/introspect",
            grantTypesSupported: ["refresh_token"] + (services.providers.isEmpty ? [] : [OAuthController.tokenExchangeGrant]),
            signingAlgorithms: [KeyRing.algorithm])
        return try JSONResponse.make(document, headers: cacheHeaders)
    }
}
