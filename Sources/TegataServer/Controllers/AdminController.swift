import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// The admin API (`Authorization: Bearer <admin API key>`): off, every path 404, unless a key is
/// configured. Serves `POST /admin/v1/keys/rotate`, and users and sessions through
/// ``Administration`` (the operations the CLI shares).
struct AdminController {
    let adminKey: String?
    let keys: ServerKeys
    let administration: Administration
    let clock: any TegataClock
    /// How long before it signs a planned rotation's key is published (the JWKS cache lifetime).
    let publishAhead: TimeInterval
    let bodyLimit: Int
    /// Requests per client address, counted before the key is compared.
    let rateLimit: RateLimiter?
    /// Audits every admin request (refused ones too) and each key rotation.
    let audit: AuditTrail
    /// The audit table's store, when the table is kept (`TEGATA_AUDIT_TABLE`): exports carry the user's events.
    let auditTable: (any AuditStore)?
    /// The configured identity providers, with whether each keeps e-mail addresses (imports check identities against them).
    let importProviders: [String: Bool]

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

    /// `POST /admin/v1/users/{id}/disable` body: `{"until": "<RFC 3339>"}`, optional (absent or an
    /// empty body: until enabled). `"until": null` is refused, not taken as absent.
    struct DisableRequest: Decodable {
        var until: Date?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard let text = try container.decodeIfPresentRefusingNull(String.self, forKey: .until) else { return }
            guard let date = WireTime.rfc3339(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .until, in: container, debugDescription: "until must be an RFC 3339 time such as 2026-12-01T09:30:00Z")
            }
            until = date
        }

        enum CodingKeys: String, CodingKey { case until }
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

        let administration = administration
        admin.get("/users") { request, _ in
            try JSONResponse.make(AdminViews.users(try await administration.findUsers(try Self.userQuery(request.uri.queryParameters))))
        }
        let importProviders = importProviders
        admin.post("/users/import") { request, context in
            let users = try Self.importedUsers(try await request.decodeJSON([String: JSONValue].self, limit: Self.importBodyLimit))
            let response = AdminViews.imported(users, try await administration.importUsers(users, providers: importProviders))
            for event in AdminViews.importAuditEvents(response, now: clock.now(), origin: context.origin) { audit.record(event) }
            return try JSONResponse.make(response)
        }
        admin.get("/users/{id}") { _, context in
            try JSONResponse.make(AdminViews.user(try await administration.user(try context.pathParameter("id")), now: clock.now()))
        }
        let auditTable = auditTable
        admin.get("/users/{id}/export") { _, context in
            let export = try await administration.export(try context.pathParameter("id"), audit: auditTable)
            return try JSONResponse.make(AdminViews.export(export, now: clock.now()))
        }
        admin.get("/users/{id}/sessions") { _, context in
            try JSONResponse.make(AdminViews.sessions(try await administration.sessions(ofUser: try context.pathParameter("id"))))
        }
        admin.post("/users/{id}/revoke") { _, context in
            try await administration.revokeUser(try context.pathParameter("id"))
            return Response(status: .noContent)
        }
        admin.post("/users/{id}/disable") { request, context in
            let body = try await request.decodeOptionalJSON(DisableRequest.self, limit: limit)
            try await administration.disableUser(try context.pathParameter("id"), until: body?.until)
            return Response(status: .noContent)
        }
        admin.put("/users/{id}/claims") { request, context in
            let claims = try await request.decodeJSON([String: JSONValue].self, limit: limit)
            try await administration.setClaims(try context.pathParameter("id"), claims)
            return Response(status: .noContent)
        }
        admin.post("/users/{id}/enable") { _, context in
            try await administration.enableUser(try context.pathParameter("id"))
            return Response(status: .noContent)
        }
        admin.delete("/users/{id}") { _, context in
            try await administration.deleteUser(try context.pathParameter("id"))
            return Response(status: .noContent)
        }
        admin.delete("/sessions/{id}") { _, context in
            try await administration.endSession(try context.pathParameter("id"))
            return Response(status: .noContent)
        }
    }

    /// The most bytes an import's body may take (``UserImport/maximumBatch`` users of a few kB).
    static let importBodyLimit = 8 << 20

    /// The `users` of an import's body `{"users": [...]}`; nothing else may be in it.
    static func importedUsers(_ body: [String: JSONValue]) throws -> [JSONValue] {
        guard case .array(let users)? = body["users"] else { throw TegataError.invalidRequest("the body must be {\"users\": [...]}") }
        guard body.count == 1 else { throw TegataError.invalidRequest("the body has a field other than users") }
        return users
    }

    /// The filters of `GET /admin/v1/users`; every one optional, each refused with 400 when malformed.
    static func userQuery(_ parameters: FlatDictionary<Substring, Substring>) throws -> UserQuery {
        try userQuery { name in
            let values = parameters[values: Substring(name)]
            guard values.count <= 1 else { throw TegataError.invalidRequest("\(name) may be given once") }
            return values.first.map(String.init)
        }
    }

    /// The filters of a user search from their text values by parameter name (nil: not given);
    /// the admin API's query and the CLI's options both come through here.
    static func userQuery(_ value: (String) throws -> String?) throws -> UserQuery {
        func text(_ name: String) throws -> String? {
            guard let value = try value(name) else { return nil }
            guard (1...512).contains(value.utf8.count) else { throw TegataError.invalidRequest("\(name) must be 1 to 512 characters") }
            return value
        }
        func time(_ name: String) throws -> Date? {
            guard let value = try text(name) else { return nil }
            guard let date = WireTime.rfc3339(value) else { throw TegataError.invalidRequest("\(name) must be an RFC 3339 time such as 2026-12-01T09:30:00Z") }
            return date
        }
        let provider = try text("provider"), subject = try text("subject")
        guard (provider == nil) == (subject == nil) else {
            throw TegataError.invalidRequest("provider and subject are given together")
        }
        var cursor: UserCursor?
        if let raw = try text("cursor") {
            guard let parsed = UserCursor(rawValue: raw) else { throw TegataError.invalidRequest("cursor must be a next_cursor of this API") }
            cursor = parsed
        }
        var limit = 50
        if let raw = try text("limit") {
            guard let number = Int(raw), (1...100).contains(number) else { throw TegataError.invalidRequest("limit must be from 1 to 100") }
            limit = number
        }
        let identity = provider.flatMap { provider in subject.map { (provider: provider, subject: $0) } }
        return UserQuery(
            identity: identity, deviceID: try text("device_id"), createdAfter: try time("created_after"),
            createdBefore: try time("created_before"), after: cursor, limit: limit)
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
        // The user or session the route names (a well-formed id only: anything else is the client's text).
        let named = (try? context.pathParameter("id")).flatMap { UserID.isWellFormed($0) ? $0 : nil }
        let isSession = context.endpointPath?.hasPrefix("/admin/v1/sessions/") == true
        func record(status: Int) {
            audit.record(AuditEvent(
                .adminAction, outcome: status < 400 ? .success : .failure, at: clock.now(), origin: context.origin,
                userID: isSession ? nil : named, sessionID: isSession ? named : nil,
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

extension TegataConfiguration {
    /// The configured identity providers by name, with whether each keeps e-mail addresses: what
    /// an import checks identities against.
    var importProviders: [String: Bool] {
        Dictionary(providers.map { ($0.name, $0.storeEmail) }, uniquingKeysWith: { first, _ in first })
    }
}
