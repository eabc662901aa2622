import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// The admin API (`Authorization: Bearer <admin API key>`): off, every path 404, unless a key is
/// configured. Serves `POST /admin/v1/keys/rotate`.
struct AdminController {
    let adminKey: String?
    let keys: ServerKeys
    let clock: any TegataClock
    /// How long before it signs a planned rotation's key is published (the JWKS cache lifetime).
    let publishAhead: TimeInterval
    let bodyLimit: Int
    /// Requests per client address, counted before the key is compared.
    let rateLimit: RateLimiter?
    /// Audits every admin request (refused ones too) and each key rotation.
    let audit: AuditTrail

    /// `POST /admin/v1/keys/rotate` body: `{"immediate": bool}`, optional.
    struct RotateRequest: Decodable {
        var immediate: Bool?

        /// `"immediate": null` is refused, not taken as false.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            immediate = try container.decodeIfPresentRefusingNull(Bool.self, forKey: .immediate)
        }

        enum CodingKeys: String, CodingKey { case immediate }
    }

    func register(on routes: TegataRoutes) {
        let admin = routes.open.group("/admin/v1")
            .add(middleware: RateLimitMiddleware(limiter: rateLimit, clock: clock))
            .add(middleware: AdminAudit(audit: adminKey == nil ? nil : audit, clock: clock))
            .add(middleware: AdminAuthorization(key: adminKey.map { ConfiguredSecret(expected: $0) }))
        let keys = keys
        let clock = clock
        let publishAhead = publishAhead
        let limit = bodyLimit
        let audit = audit

        admin.post("/keys/rotate") { request, context in
            let body = try await request.decodeOptionalJSON(RotateRequest.self, limit: limit)
            let immediate = body?.immediate ?? false
            let now = clock.now()
            let key = try await keys.rotate(immediate: immediate, publishAhead: publishAhead, now: now)
            let ring = keys.ring(at: now)
            audit.record(AuditEvent(
                .signingKeyRotated, at: now, origin: context.origin,
                details: ["kid": key.key.id.rawValue, "signs_from": Date.ISO8601FormatStyle().format(key.activatesAt),
                          "immediate": immediate ? "true" : "false"]))
            context.logger.notice(
                "signing key rotated",
                metadata: ["kid": "\(key.key.id)", "signs_from": "\(key.activatesAt)", "immediate": "\(immediate)"])
            return try JSONResponse.make(
                KeyRotationResponse(kid: key.key.id.rawValue, signsFrom: key.activatesAt, publishedKids: ring.jwks.keys.map(\.kid)))
        }
    }
}

/// Writes an `admin_action` audit event for every request to the admin API that the rate limit let
/// through: its method and route, and the status it was answered with (a wrong key too). Off, with
/// the admin API.
struct AdminAudit: RouterMiddleware {
    typealias Context = TegataRequestContext
    let audit: AuditTrail?
    let clock: any TegataClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let audit else { return try await next(request, context) }
        let action = "\(request.method) \(context.endpointPath ?? "/admin/v1")"
        func record(status: Int) {
            audit.record(AuditEvent(
                .adminAction, outcome: status < 400 ? .success : .failure, at: clock.now(), origin: context.origin,
                details: ["action": action, "status": String(status)]))
        }
        do {
            let response = try await next(request, context)
            record(status: response.status.code)
            return response
        } catch {
            let status = switch error {
            case let error as TegataError: ErrorMapping.response(for: error).status.code
            case let error as any HTTPResponseError: error.status.code
            default: 500
            }
            record(status: status)
            throw error
        }
    }
}

/// Lets a request through to an admin route only with `Authorization: Bearer <admin API key>`
/// (compared in constant time); when no key is configured the admin API is off and every admin
/// path answers 404.
struct AdminAuthorization: RouterMiddleware {
    typealias Context = TegataRequestContext
    let key: ConfiguredSecret?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key else { throw TegataError.notFound("the admin API is off (no TEGATA_ADMIN_API_KEY)") }
        guard key.matches(try request.bearerToken()) else {
            throw TegataError.invalidToken("the admin API key is wrong")
        }
        return try await next(request, context)
    }
}
