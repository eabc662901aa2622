// A small API protected by Tegata access tokens: what a resource server needs, and nothing else.
// See README.md next to this file.
import Foundation
import Hummingbird
import Logging
import TegataTokens
import TegataVerifier
import TegataVerifierHummingbird
import TegataWire

/// The request context: where the middleware puts the verified claims (or, while clients migrate,
/// the device of accepted legacy headers).
struct AppContext: TegataLegacyAuthRequestContext {
    var coreContext: CoreRequestContextStorage
    var tegataClaims: AccessTokenClaims?
    var tegataLegacyDevice: LegacyDevice?

    init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// `GET /v1/profile`.
struct Profile: ResponseEncodable {
    let userID: String
    let anonymous: Bool?
    let entitlements: [String]
    let authenticatedBy: String

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case anonymous
        case entitlements
        case authenticatedBy = "authenticated_by"
    }
}

@main
struct ResourceServer {
    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "resource-server")
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

        // 1. A verifier for Tegata's tokens, following its revocation feed with a resource-server client.
        let issuer = environment["TEGATA_ISSUER"] ?? "http://127.0.0.1:8080"
        var configuration = TegataVerifierConfiguration(issuer: issuer, audience: environment["TEGATA_AUDIENCE"])
        // The resource-server client's credentials (one of Tegata's TEGATA_INTROSPECTION_CLIENTS).
        // Not TEGATA_CLIENT_ID, which is Tegata's own setting for the `client_id` claim of app tokens.
        let clientID = environment["TEGATA_RESOURCE_CLIENT_ID"]
        let clientSecret = environment["TEGATA_RESOURCE_CLIENT_SECRET"]
        if clientID == nil, environment["TEGATA_CLIENT_ID"] != nil || environment["TEGATA_CLIENT_SECRET"] != nil {
            logger.warning("TEGATA_CLIENT_ID/TEGATA_CLIENT_SECRET are not read: this example takes TEGATA_RESOURCE_CLIENT_ID and TEGATA_RESOURCE_CLIENT_SECRET")
        }
        if let clientID, let clientSecret {
            configuration.revocations = .init(clientID: clientID, clientSecret: clientSecret)
        }
        if let seconds = environment["TEGATA_KEYS_REFETCH_INTERVAL"].flatMap(TimeInterval.init) {
            configuration.keySetPolicy.unknownKeyRefetchInterval = seconds
        }
        if let seconds = environment["TEGATA_KEYS_MINIMUM_LIFETIME"].flatMap(TimeInterval.init) {
            configuration.keySetPolicy.minimumLifetime = seconds
        }
        let verifier = TegataVerifier(configuration: configuration, logger: logger)

        // 2. The middleware; with LEGACY_DEVICE_HEADERS=on it also accepts the old device-id + user-id
        //    headers of devices registered in Tegata, while the apps migrate.
        let middleware: TegataAuthMiddleware<AppContext>
        if environment["LEGACY_DEVICE_HEADERS"] == "on", let clientID, let clientSecret {
            let legacy = LegacyDeviceCheck(
                configuration: .init(issuer: issuer, clientID: clientID, clientSecret: clientSecret), logger: logger)
            middleware = TegataAuthMiddleware(verifier: verifier, legacyHeaders: legacy)
        } else {
            middleware = TegataAuthMiddleware(verifier: verifier)
        }

        // 3. Routes: public ones on the router, protected ones in the group behind the middleware.
        let router = Router(context: AppContext.self)
        router.get("/health") { _, _ in "ok" }
        // Ready once the revocation list has been read: until then a fail-closed verifier answers
        // 503 to every token, so a load balancer should not send traffic here yet.
        router.get("/ready") { _, _ -> Response in
            Response(status: verifier.isRevocationListLoaded ? .ok : .serviceUnavailable)
        }
        let api = router.group("/v1").add(middleware: middleware)
        api.get("/profile") { _, context -> Profile in
            if let claims = context.tegataClaims {
                let now = Int64(Date().timeIntervalSince1970)
                let active = (claims.ent ?? [:]).filter { _, grant in
                    if case .until(let end) = grant { return end > now }
                    return true
                }
                return Profile(userID: claims.sub, anonymous: claims.anon, entitlements: active.keys.sorted(), authenticatedBy: "token")
            }
            return Profile(userID: try context.requireTegataUserID(), anonymous: nil, entitlements: [], authenticatedBy: "legacy-headers")
        }

        // 4. The verifier runs next to the server (keys and revocations are kept fresh in the background).
        let host = environment["HOST"] ?? "127.0.0.1"
        let port = environment["PORT"].flatMap(Int.init) ?? 8081
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "resource-server"),
            services: [verifier],
            onServerRunning: { [logger] channel in
                logger.notice("resource server listening", metadata: ["port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger)
        try await app.runService()
    }
}
