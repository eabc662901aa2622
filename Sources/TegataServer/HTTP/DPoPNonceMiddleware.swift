import HTTPTypes
import Hummingbird
import TegataCore

/// Every answer to a request that carried a `DPoP` proof — a success or an error — carries the
/// server's current nonce in `DPoP-Nonce` (RFC 9449 §8.2), so a client keeps up with the nonce
/// without a refused request. An answer that already names one (`use_dpop_nonce`) keeps it.
struct DPoPNonceMiddleware<Context: RequestContext>: RouterMiddleware {
    let dpop: DPoPChecker

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if request.headers[.dpop] != nil, response.headers[.dpopNonce] == nil {
            response.headers[.dpopNonce] = dpop.currentNonce()
        }
        return response
    }
}
