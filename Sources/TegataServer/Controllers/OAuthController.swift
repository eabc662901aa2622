import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// `/oauth/token` (refresh and token-exchange grants), `/oauth/revoke` (RFC 7009), `/oauth/introspect` (RFC 7662).
struct OAuthController {
    let refreshGrant: RefreshGrant
    let tokenExchange: TokenExchange
    let revocation: TokenRevocation
    let introspection: Introspection
    let clients: ResourceServerClients
    let appClientID: String
    let bodyLimit: Int
    /// Counts RFC 7009 revocations.
    let metrics: TegataMetrics
    /// Audits RFC 7009 revocations.
    let audit: AuditTrail
    let clock: any TegataClock
    /// Checks DPoP proofs of token requests.
    let dpop: DPoPChecker
    /// The issuer's base URL, for the `htu` of DPoP proofs.
    let issuer: String

    /// RFC 8693 §2.1.
    static let tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"

    func register(on routes: TegataRoutes) {
        let router = routes.open
        let limit = bodyLimit
        let refreshGrant = refreshGrant
        let tokenExchange = tokenExchange
        let revocation = revocation
        let introspection = introspection
        let clients = clients
        let appClient = appClientID
        let metrics = metrics
        let audit = audit
        let clock = clock
        let dpop = dpop
        let issuer = issuer

        router.post("/oauth/token") { request, context in
            let parameters = try await OAuthParameters.parse(request, limit: limit)
            try Self.checkPresentedClient(request, parameters, appClientID: appClient)
            let grantType = try parameters.required("grant_type")
            switch grantType {
            case "refresh_token":
                let refreshToken = try parameters.required("refresh_token")
                // The proof is spent in the refresh's own transaction (one commit for both).
                let proof = try dpop.unrecordedKey(of: request.dpopRequest(issuer: issuer))
                let tokens = try await refreshGrant.refresh(
                    refreshToken, origin: context.origin, dpopKey: proof?.thumbprint, dpopProof: proof?.record)
                return try JSONResponse.make(tokens)
            case Self.tokenExchangeGrant:
                let presentation = try parameters.idTokenPresentation()
                if let requested = try parameters.optional("requested_token_type"), requested != TokenResponse.accessTokenType {
                    throw TegataError.invalidRequest("requested_token_type must be \(TokenResponse.accessTokenType)")
                }
                guard try parameters.optional("actor_token") == nil else {
                    throw TegataError.invalidRequest("delegation (actor_token) is not supported")
                }
                let platform = try parameters.optional("platform")
                let key = try await dpop.key(of: request.dpopRequest(issuer: issuer))
                let tokens = try await tokenExchange.exchange(presentation, platform: platform, origin: context.origin, dpopKey: key)
                return try JSONResponse.make(tokens)
            default:
                throw TegataError.unsupportedGrantType("this server does not support that grant_type")
            }
        }

        router.post("/oauth/revoke") { request, context in
            let parameters = try await OAuthParameters.parse(request, limit: limit)
            try Self.checkPresentedClient(request, parameters, appClientID: appClient)
            let token = try parameters.required("token"), hint = try parameters.optional("token_type_hint")
            let revoked = try await revocation.revoke(token, hint: hint, dpopKey: try await dpop.key(of: request.dpopRequest(issuer: issuer)))
            metrics.revoked("token")
            switch revoked {
            case .session(let id, ended: true):
                audit.record(AuditEvent(
                    .tokenRevoked, at: clock.now(), origin: context.origin, sessionID: id, details: ["token_type": "refresh_token"]))
            case .accessToken(let user, let session):
                audit.record(AuditEvent(
                    .tokenRevoked, at: clock.now(), origin: context.origin, userID: user, sessionID: session,
                    details: ["token_type": "access_token"]))
            case .session(_, ended: false), .nothing:
                break
            }
            return Response(status: .ok)
        }

        router.post("/oauth/introspect") { request, context in
            let id = try request.authenticateResourceServer(clients)
            let parameters = try await OAuthParameters.parse(request, limit: limit)
            // The hint is not needed (a token's form tells what it is) but, when given, must be a string.
            _ = try parameters.optional("token_type_hint")
            let answer = try await introspection.introspect(try parameters.required("token"))
            context.logger.debug("introspection", metadata: ["client_id": "\(id)", "active": "\(answer.active)"])
            return try JSONResponse.make(answer)
        }
    }

    /// Client credentials are optional at the token and revocation endpoints (apps are public
    /// clients), but credentials that are presented are checked (RFC 6749 §2.3.1, §3.2.1): the one
    /// client of these endpoints is the app client (`TEGATA_CLIENT_ID`), which has no secret. So a
    /// `client_id` must name it, HTTP Basic must carry it with an empty secret, both must agree,
    /// and any `client_secret` is wrong. Anything else is 401 `invalid_client`.
    static func checkPresentedClient(_ request: Request, _ parameters: OAuthParameters, appClientID: String) throws {
        var presented: [String] = []
        let authorization = request.headers[values: .authorization]
        if let value = authorization.first, value.trimmingASCIIWhitespace().lowercased().hasPrefix("basic") {
            let (id, secret) = try request.basicCredentials()
            guard secret.isEmpty else { throw TegataError.invalidClient("client authentication failed") }
            presented.append(id)
        }
        if let id = try parameters.optional("client_id") { presented.append(id) }
        guard try parameters.optional("client_secret") == nil else {
            throw TegataError.invalidClient("client authentication failed")
        }
        guard presented.allSatisfy({ $0 == appClientID }) else {
            throw TegataError.invalidClient("unknown client")
        }
    }
}
