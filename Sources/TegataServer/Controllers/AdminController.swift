import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// The admin API (`Authorization: Bearer <admin API key>`): off, every path 404, unless a key is
/// configured. Serves `POST /admin/v1/keys/rotate`.
struct AdminController {
    let services: TegataServices

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

    func register(on router: Router<TegataRequestContext>) {
        let adminKey = services.configuration.adminAPIKey.map { ConfiguredSecret(expected: $0) }
        let services = services
        let limit = services.configuration.maxBodySize

        /// Throws unless the request carries the admin key (404 when the admin API is off).
        @Sendable func authorize(_ request: Request) throws {
            guard let adminKey else { throw TegataError.notFound("the admin API is off (no TEGATA_ADMIN_API_KEY)") }
            guard adminKey.matches(try request.bearerToken()) else {
                throw TegataError.invalidToken("the admin API key is wrong")
            }
        }

        router.post("/admin/v1/keys/rotate") { request, context in
            try authorize(request)
            let body = try await request.decodeOptionalJSON(RotateRequest.self, limit: limit)
            let immediate = body?.immediate ?? false
            let now = services.clock.now()
            let key = try await services.keys.rotate(
                immediate: immediate, publishAhead: services.configuration.jwksMaxAge, now: now)
            let ring = services.keys.ring(at: now)
            context.logger.notice(
                "signing key rotated",
                metadata: ["kid": "\(key.key.id)", "signs_from": "\(key.activatesAt)", "immediate": "\(immediate)"])
            return try JSONResponse.make(
                KeyRotationResponse(kid: key.key.id.rawValue, signsFrom: key.activatesAt, publishedKids: ring.jwks.keys.map(\.kid)),
                noStore: true)
        }
    }
}
