import HTTPTypes
import Hummingbird

/// The one caching policy: every response is `Cache-Control: no-store` (tokens, user records,
/// sessions, errors: RFC 6749 §5.1, RFC 6750 §4) unless its route chose another policy (the
/// discovery documents and the JWKS are public and cacheable).
struct NoStoreMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}
