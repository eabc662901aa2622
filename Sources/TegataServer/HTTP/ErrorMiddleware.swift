import Hummingbird
import Logging
import TegataCore

/// Turns every error into the contract's JSON error response, and logs each request (path only:
/// query strings and headers may carry secrets, so they are never logged).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = TegataRequestContext
    /// Counts rate-limit rejections by policy.
    let metrics: TegataMetrics?
    /// Where a rate limit's refusals are audited (once per policy and address per minute).
    var audit: AuditTrail? = nil
    var clock: any TegataClock = SystemClock()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as TegataError {
            if let policy = error.rateLimitPolicy {
                metrics?.rateLimited(policy)
                audit?.rateLimited(policy, origin: context.origin, at: clock.now())
            }
            response = ErrorMapping.response(for: error)
        } catch let error as any HTTPResponseError {
            response = ErrorMapping.response(for: ErrorMapping.domainError(for: error))
        } catch {
            context.logger.error(
                "request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            response = ErrorMapping.response(for: .serverError)
        }
        context.logger.info(
            "request", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)"])
        return response
    }
}
