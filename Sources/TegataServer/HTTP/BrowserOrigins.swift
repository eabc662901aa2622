import Foundation
import HTTPTypes
import Hummingbird
import TegataCore

/// The web origins allowed to call Tegata from a browser with credentials (`TEGATA_ALLOWED_ORIGINS`).
struct BrowserOrigins: Sendable {
    let allowed: Set<String>

    /// The request's origin if it is allowed: `Origin`, else the origin of `Referer`.
    func allowedOrigin(of request: Request) -> String? {
        guard !allowed.isEmpty else { return nil }  // nothing to parse when no origin is allowed
        if let origin = request.headers[.origin] {
            return TegataConfiguration.normalizedOrigin(origin).flatMap { allowed.contains($0) ? $0 : nil }
        }
        guard let referer = request.headers[.referer], let url = URL(string: referer), let scheme = url.scheme, let host = url.host
        else { return nil }
        let origin = "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
        return TegataConfiguration.normalizedOrigin(origin).flatMap { allowed.contains($0) ? $0 : nil }
    }

    /// CSRF check for a cookie-authenticated unsafe request: `forbidden` unless its `Origin` (or,
    /// without one, its `Referer`) is allowed. A request with neither is refused too.
    func requireSameParty(_ request: Request) throws {
        guard allowedOrigin(of: request) != nil else {
            throw TegataError.forbidden("cross-site request refused: the Origin is not an allowed origin")
        }
    }
}

/// CORS for the allowed origins only, with credentials: preflights from them get the methods and
/// headers Tegata uses; every response to them names the origin. Other origins get no CORS headers
/// (their preflights a 403), so browsers keep their pages from reading Tegata's answers.
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: BrowserOrigins
    static var preflightMaxAge: String { "600" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.origin] != nil else { return try await next(request, context) }
        let origin = origins.allowedOrigin(of: request)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard let origin else {
                var refused = ErrorMapping.response(for: .forbidden("this origin may not call Tegata from a browser"))
                refused.headers[.vary] = "Origin"
                return refused
            }
            var headers = Self.headers(for: origin)
            headers[.accessControlAllowMethods] = "GET, POST, DELETE"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, DPoP"
            headers[.accessControlMaxAge] = Self.preflightMaxAge
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if let origin {
            for field in Self.headers(for: origin) { response.headers[field.name] = field.value }
            // A page's DPoP client must read the nonce and the challenge (RFC 9449 §8).
            response.headers[.accessControlExposeHeaders] = "DPoP-Nonce, WWW-Authenticate, Retry-After"
        } else {
            response.headers[.vary] = "Origin"
        }
        return response
    }

    static func headers(for origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .accessControlAllowCredentials: "true", .vary: "Origin"]
    }
}
