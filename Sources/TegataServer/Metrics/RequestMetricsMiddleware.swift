import Hummingbird
import NIOCore

/// Counts every request by route template (never the path itself: it may hold ids), method and
/// status class, and records its latency. Outermost, so it sees every answer, errors included.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: TegataMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = NIODeadline.now()
        do {
            let response = try await next(request, context)
            metrics.request(
                route: context.endpointPath, method: request.method.rawValue, status: Int(response.status.code),
                nanoseconds: (NIODeadline.now() - start).nanoseconds)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(
                route: context.endpointPath, method: request.method.rawValue, status: Int(status),
                nanoseconds: (NIODeadline.now() - start).nanoseconds)
            throw error
        }
    }
}
