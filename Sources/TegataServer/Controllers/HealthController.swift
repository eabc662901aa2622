import Hummingbird
import Logging
import TegataCore
import TegataWire

/// Liveness and readiness. The signing keys are loaded before the server listens (it does not
/// start without them), so readiness only has the database left to check.
struct HealthController {
    let database: any StoreHealth

    private struct Status: Encodable { var status: String }

    func register(on routes: TegataRoutes) {
        let database = database
        routes.open.get("/healthz") { _, _ in try JSONResponse.make(Status(status: "ok")) }
        routes.open.get("/readyz") { _, context in
            do {
                try await database.ping()
            } catch {
                context.logger.warning("not ready: the database does not answer", metadata: ["error": "\(error)"])
                return ErrorMapping.response(for: .serviceUnavailable("the database does not answer"))
            }
            return try JSONResponse.make(Status(status: "ready"))
        }
    }
}
