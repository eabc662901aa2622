import Hummingbird
import TegataCore

/// Verifies the access token once, before the route, and puts the ``Identity`` in the context:
/// signature, claims, a live session, the token version, the token's own revocation and, for a
/// DPoP-bound token, the request's proof (``AccessTokenAuthenticator``). A route behind it reads `context.requireIdentity()`.
struct AccessTokenAuthentication: RouterMiddleware {
    typealias Context = TegataRequestContext

    let authenticator: AccessTokenAuthenticator
    /// The issuer's base URL: a DPoP proof's `htu` is it and the request's path.
    let issuer: String
    /// Whether the user record is read with the session (one store read for both), for routes that
    /// answer with the user.
    let loadsUser: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let (claims, session, user) = try await authenticator.authenticate(try request.presentedAccessToken(issuer: issuer), withUser: loadsUser)
        if loadsUser, user == nil {
            throw TegataError.invalidToken("the user of this access token no longer exists")
        }
        var context = context
        context.identity = Identity(claims: claims, session: session, user: user)
        return try await next(request, context)
    }
}
