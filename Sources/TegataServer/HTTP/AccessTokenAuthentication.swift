import Hummingbird
import TegataCore

/// Verifies the bearer access token once, before the route, and puts the ``Identity`` in the
/// context: signature, claims, a live session, the token version and the token's own revocation
/// (``AccessTokenAuthenticator``). A route behind it reads `context.requireIdentity()`.
struct AccessTokenAuthentication: RouterMiddleware {
    typealias Context = TegataRequestContext

    let authenticator: AccessTokenAuthenticator
    /// Whether the user record is read with the session (one store read for both), for routes that
    /// answer with the user.
    let loadsUser: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let (claims, session, user) = try await authenticator.authenticate(try request.bearerToken(), withUser: loadsUser)
        if loadsUser, user == nil {
            throw TegataError.invalidToken("the user of this access token no longer exists")
        }
        var context = context
        context.identity = Identity(claims: claims, session: session, user: user)
        return try await next(request, context)
    }
}
