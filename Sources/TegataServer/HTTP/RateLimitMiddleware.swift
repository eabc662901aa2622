import Hummingbird
import TegataCore

/// A per-address limit on every request of a route group (the admin API, the webhooks), taken
/// before anything else of the route runs: before the admin key is compared or a body is read.
/// Requests without a known client address (in-process callers) are not limited.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = TegataRequestContext
    let limiter: RateLimiter?
    let clock: any TegataClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let limiter, let address = context.clientAddress {
            try limiter.take(address.rateLimitKey, now: clock.now())
        }
        return try await next(request, context)
    }
}
