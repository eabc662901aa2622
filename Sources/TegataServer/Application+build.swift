import Foundation
import Hummingbird
import Logging
import TegataCore

/// Builds the router with every Tegata route. Tests and the application share it.
public func buildRouter(services: TegataServices) -> Router<TegataRequestContext> {
    let router = Router(context: TegataRequestContext.self)
    router.add(middleware: CORSMiddleware(origins: BrowserOrigins(allowed: Set(services.configuration.allowedOrigins))))
    router.add(middleware: ErrorMiddleware())
    let servedRoutes = ServedRoutes()
    router.add(middleware: MethodNotAllowedMiddleware(routes: servedRoutes))
    WellKnownController(services: services).register(on: router)
    DeviceAuthController(services: services).register(on: router)
    MeController(services: services).register(on: router)
    OAuthController(services: services).register(on: router)
    SessionsController(services: services).register(on: router)
    RevocationsController(services: services).register(on: router)
    DeviceCheckController(services: services).register(on: router)
    WebhooksController(services: services).register(on: router)
    WebSessionController(services: services).register(on: router)
    RealtimeController(services: services).register(on: router)
    HealthController(services: services).register(on: router)
    AdminController(services: services).register(on: router)
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
