/// Authorization-server metadata (RFC 8414), served at both `/.well-known/oauth-authorization-server`
/// and `/.well-known/openid-configuration`. Tegata is an OAuth authorization server, not an OpenID
/// provider (it issues no ID tokens and has no authorization endpoint); the OpenID path is served
/// because many JOSE libraries and gateways look there for `issuer` and `jwks_uri`. The document
/// passes strict RFC 8414 validators (Authlib's `AuthorizationServerMetadata.validate()`).
public struct DiscoveryDocument: Codable, Sendable, Equatable {
    /// The issuer identifier, exactly as in tokens' `iss`.
    public var issuer: String
    /// Where the public signing keys are.
    public var jwksURI: String
    /// The OAuth token endpoint, when one is served.
    public var tokenEndpoint: String?
    /// The RFC 7009 revocation endpoint, when one is served.
    public var revocationEndpoint: String?
    /// The RFC 7662 introspection endpoint, when one is served.
    public var introspectionEndpoint: String?
    /// Grant types the token endpoint accepts.
    public var grantTypesSupported: [String]
    /// RFC 8414 requires a non-empty list; Tegata serves no authorization endpoint, so it lists only
    /// `none` (the registered response type that returns no credential).
    public var responseTypesSupported: [String]
    /// Signing algorithms of access tokens (not an RFC 8414 name; informative).
    public var accessTokenSigningAlgValuesSupported: [String]
    /// Client authentication methods the token endpoint accepts (public clients: `none`).
    public var tokenEndpointAuthMethodsSupported: [String]
    /// Client authentication at the revocation endpoint (public clients: `none`).
    public var revocationEndpointAuthMethodsSupported: [String]?
    /// Client authentication at the introspection endpoint (resource servers: `client_secret_basic`).
    public var introspectionEndpointAuthMethodsSupported: [String]?
    /// The algorithms of DPoP proofs the server accepts (RFC 9449 §5.1), when it accepts them.
    public var dpopSigningAlgValuesSupported: [String]?

    /// Creates a discovery document.
    public init(
        issuer: String, jwksURI: String, tokenEndpoint: String?, revocationEndpoint: String?,
        introspectionEndpoint: String?, grantTypesSupported: [String], signingAlgorithms: [String],
        dpopAlgorithms: [String]? = nil
    ) {
        self.dpopSigningAlgValuesSupported = dpopAlgorithms
        self.issuer = issuer
        self.jwksURI = jwksURI
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.introspectionEndpoint = introspectionEndpoint
        self.grantTypesSupported = grantTypesSupported
        self.responseTypesSupported = ["none"]
        self.accessTokenSigningAlgValuesSupported = signingAlgorithms
        self.tokenEndpointAuthMethodsSupported = ["none"]
        self.revocationEndpointAuthMethodsSupported = revocationEndpoint == nil ? nil : ["none"]
        self.introspectionEndpointAuthMethodsSupported = introspectionEndpoint == nil ? nil : ["client_secret_basic"]
    }

    enum CodingKeys: String, CodingKey {
        case issuer
        case jwksURI = "jwks_uri"
        case tokenEndpoint = "token_endpoint"
        case revocationEndpoint = "revocation_endpoint"
        case introspectionEndpoint = "introspection_endpoint"
        case grantTypesSupported = "grant_types_supported"
        case responseTypesSupported = "response_types_supported"
        case accessTokenSigningAlgValuesSupported = "access_token_signing_alg_values_supported"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
        case introspectionEndpointAuthMethodsSupported = "introspection_endpoint_auth_methods_supported"
        case dpopSigningAlgValuesSupported = "dpop_signing_alg_values_supported"
    }
}
