import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// The metrics listener: `GET /metrics` in Prometheus' text format, on its own address and port
/// (`TEGATA_METRICS_HOST`, loopback by default, and `TEGATA_METRICS_PORT`), never on the public
/// listener. Run by the server's service group, beside the public application.
public final class MetricsListener: Service, Sendable {
    /// The metrics served.
    public let metrics: TegataMetrics
    private let host: String
    private let port: Int
    private let logger: Logger
    private let bound = Mutex<Int?>(nil)

    /// Creates the listener; it listens once run.
    public init(metrics: TegataMetrics, host: String, port: Int, logger: Logger) {
        self.metrics = metrics
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// The port it listens on, once listening (useful with port 0).
    public var boundPort: Int? { bound.withLock { $0 } }

    /// Serves until the service group shuts down.
    public func run() async throws {
        let router = Router()
        let metrics = metrics
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        let logger = logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "tegata-metrics"),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port
                self.bound.withLock { $0 = port }
                logger.notice("metrics are served", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        try await app.run()
    }
}
