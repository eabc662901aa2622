import Foundation
import Hummingbird
import Logging
import TegataCore

/// Where a controller adds its routes: open to anyone (the route checks its own credentials, if
/// any), or behind the access-token authentication with or without the user record loaded.
struct TegataRoutes {
    /// No authentication before the route.
    let open: Router<TegataRequestContext>
    /// A valid access token of a live session is required; `context.requireIdentity()`.
    let signedIn: RouterGroup<TegataRequestContext>
    /// The same, with the user record read in the same store read; `context.requireUser()`.
    let signedInWithUser: RouterGroup<TegataRequestContext>
}

/// Builds the router with every Tegata route. Tests and the application share it.
public func buildRouter(services: TegataServices) -> Router<TegataRequestContext> {
    let configuration = services.configuration
    let router = Router(context: TegataRequestContext.self)
    // Outermost first: every answer, even a CORS refusal or an error, has its request id and the
    // caching policy.
    router.add(middleware: RequestMetricsMiddleware(metrics: services.metrics))
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: ClientAddressMiddleware(resolver: ClientAddressResolver(trustedProxies: configuration.trustedProxies, field: configuration.forwardedHeader)))
    router.add(middleware: NoStoreMiddleware())
    router.add(middleware: CORSMiddleware(origins: BrowserOrigins(allowed: Set(configuration.allowedOrigins))))
    router.add(middleware: DPoPNonceMiddleware(dpop: services.dpop))
    router.add(middleware: ErrorMiddleware(metrics: services.metrics, audit: services.audit, clock: services.clock))
    let servedRoutes = ServedRoutes()
    router.add(middleware: MethodNotAllowedMiddleware(routes: servedRoutes))
    let authenticator = services.authenticator
    let routes = TegataRoutes(
        open: router,
        signedIn: router.group().add(
            middleware: AccessTokenAuthentication(authenticator: authenticator, issuer: configuration.issuer, loadsUser: false)),
        signedInWithUser: router.group().add(
            middleware: AccessTokenAuthentication(authenticator: authenticator, issuer: configuration.issuer, loadsUser: true)))
    let limit = configuration.maxBodySize
    let clock = services.clock

    WellKnownController(
        issuer: configuration.issuer, keys: services.keys, clock: clock, jwksMaxAge: configuration.jwksMaxAge,
        tokenExchangeOffered: !services.providers.isEmpty
    ).register(on: routes)
    DeviceAuthController(
        signIn: services.deviceSignIn, dpop: services.dpop, issuer: configuration.issuer, bodyLimit: limit
    ).register(on: routes)
    let audit = services.audit
    MeController(
        linking: services.identityLinking, accounts: services.sessionService, clock: clock, bodyLimit: limit, metrics: services.metrics,
        audit: audit
    ).register(on: routes)
    OAuthController(
        refreshGrant: services.refreshGrant, tokenExchange: services.tokenExchange, revocation: services.tokenRevocation,
        introspection: services.introspection, clients: services.resourceServers, appClientID: configuration.clientID,
        bodyLimit: limit, metrics: services.metrics, audit: audit, clock: clock, dpop: services.dpop, issuer: configuration.issuer
    ).register(on: routes)
    SessionsController(
        sessions: services.sessionService, authenticator: authenticator, webSessions: services.webSessions,
        cookie: SessionCookie(configuration: configuration), origins: BrowserOrigins(allowed: Set(configuration.allowedOrigins)),
        bodyLimit: limit, metrics: services.metrics, audit: audit, clock: clock, issuer: configuration.issuer
    ).register(on: routes)
    RevocationsController(feed: services.store, clients: services.resourceServers, clock: clock).register(on: routes)
    DeviceCheckController(devices: services.store, clients: services.resourceServers, bodyLimit: limit).register(on: routes)
    WebhooksController(
        billing: services.store, clock: clock, stripeSecret: configuration.stripeWebhookSecret,
        stripeEntitlements: configuration.stripeEntitlements, revenueCatAuthorization: configuration.revenueCatWebhookAuth,
        rateLimit: services.webhookLimit, metrics: services.metrics, audit: audit
    ).register(on: routes)
    WebSessionController(
        sessions: services.webSessions, cookie: SessionCookie(configuration: configuration),
        origins: BrowserOrigins(allowed: Set(configuration.allowedOrigins)), clock: clock, metrics: services.metrics,
        audit: audit, issuer: configuration.issuer
    ).register(on: routes)
    RealtimeController(tokens: services.realtimeTokens, bodyLimit: limit).register(on: routes)
    HealthController(database: services.store).register(on: routes)
    AdminController(
        adminKey: configuration.adminAPIKey, keys: services.keys, administration: services.administration, clock: clock,
        publishAhead: configuration.jwksMaxAge,
        bodyLimit: limit, rateLimit: services.adminLimit, audit: audit,
        auditTable: configuration.auditTable ? services.store : nil, importProviders: configuration.importProviders
    ).register(on: routes)
    servedRoutes.load(router.routes)
    return router
}

/// The one wiring function: the CLI and every test build the server through it.
public func buildApplication(
    configuration: TegataConfiguration, clock: any TegataClock = SystemClock(), logger: Logger
) async throws -> some ApplicationProtocol {
    let services = try await TegataServices.make(configuration: configuration, clock: clock, logger: logger)
    return buildApplication(services: services)
}

/// Builds the application around already-made services. `onServerRunning` gets the bound port
/// (useful with port 0).
public func buildApplication(
    services: TegataServices, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let configuration = services.configuration
    return Application(
        router: buildRouter(services: services),
        server: .http1(configuration: .init(additionalChannelHandlers: [
            RequestDeadlineHandler(
                headTimeout: .nanoseconds(Int64(configuration.httpHeadTimeout * 1e9)),
                bodyTimeout: .nanoseconds(Int64(configuration.httpBodyTimeout * 1e9)))
        ])),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tegata"),
        services: services.lifecycle,
        onServerRunning: { channel in
            services.logger.notice(
                "tegata is serving",
                metadata: ["address": "\(channel.localAddress?.description ?? "?")", "issuer": "\(configuration.issuer)"])
            await onServerRunning(channel.localAddress?.port ?? 0)
        },
        logger: services.logger)
}
