import Hummingbird
import Synchronization
import TegataCore

/// The paths the router serves and their methods, filled once the routes are registered, so that
/// a method a known path does not serve can be told from an unknown path.
final class ServedRoutes: Sendable {
    private let routes = Mutex<[(components: [Substring], methods: Set<HTTPRequest.Method>)]>([])

    /// Records the router's routes; call after the last route is added.
    func load(_ descriptions: [Router<TegataRequestContext>.RouteDescription]) {
        var byPath: [String: Set<HTTPRequest.Method>] = [:]
        for route in descriptions { byPath["\(route.path)", default: []].insert(route.method) }
        let table = byPath.map { (Self.components($0.key), $0.value) }
        routes.withLock { $0 = table }
    }

    /// The methods served at `path` (parameters such as `{id}` match one segment), or nil for a path
    /// nothing serves.
    func methods(at path: String) -> Set<HTTPRequest.Method>? {
        let segments = Self.components(path)
        return routes.withLock { table in
            // The router takes a literal segment over a parameter and does not come back (GET
            // /admin/v1/users/import is not GET /admin/v1/users/{id}): so, segment by segment, a
            // route with a literal there outranks one with a parameter.
            var candidates = table.filter { Self.matches($0.components, segments) }
            for index in segments.indices {
                let literal = candidates.filter { !Self.isParameter($0.components[index]) }
                if !literal.isEmpty { candidates = literal }
            }
            return candidates.isEmpty ? nil : candidates.reduce(into: Set<HTTPRequest.Method>()) { $0.formUnion($1.methods) }
        }
    }

    private static func components(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func matches(_ pattern: [Substring], _ segments: [Substring]) -> Bool {
        guard pattern.count == segments.count else { return false }
        return zip(pattern, segments).allSatisfy { pattern, segment in isParameter(pattern) || pattern == segment }
    }

    private static func isParameter(_ pattern: Substring) -> Bool {
        pattern.hasPrefix("{") || pattern.hasPrefix(":") || pattern == "*"
    }
}

/// Answers 405 with `Allow` (RFC 9110 §15.5.6) where the router finds no route for the method of a
/// path that it serves with other methods; unknown paths stay 404.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: ServedRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = routes.methods(at: request.uri.path), !methods.contains(request.method) else { throw error }
            throw TegataError.methodNotAllowed(allowed: methods.map(\.rawValue).sorted())
        }
    }
}
