import CoreMetrics
import Foundation
import Prometheus
import Synchronization
import TegataCore

/// Tegata's metrics: swift-metrics counters and timers made by a Prometheus factory of this
/// server's own registry (not the process-wide `MetricsSystem`, so servers in one process, as in
/// tests, never mix their figures), served on the metrics listener in Prometheus' text format.
///
/// Labels only ever take values from small fixed sets (route templates, methods, results, policy
/// and provider names from configuration): never a user id, session id, device id, address, token
/// or secret. docs/operations.md lists the families.
public final class TegataMetrics: Sendable {
    /// The registry the metrics listener renders.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let counters = Mutex<[Key: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[Key: CoreMetrics.Timer]>([:])
    private let recorders = Mutex<[Key: CoreMetrics.Recorder]>([:])
    private let gauges = Mutex<[Key: CoreMetrics.Gauge]>([:])
    /// Updated just before each scrape (values that are read, not counted: the signing key's age).
    private let beforeScrape: Mutex<[@Sendable (TegataMetrics) -> Void]> = Mutex([])

    private struct Key: Hashable {
        let name: String
        let labels: [String]
    }

    /// Creates an empty set of metrics.
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Request and store latencies of an auth server live between a few hundred microseconds and a second.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        ]
        factory.valueHistogramBuckets["tegata_sqlite_commit_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        self.factory = factory
    }

    /// Adds `count` (one) to the counter `name` with `labels`.
    public func increment(_ name: String, _ labels: [(String, String)] = [], count: Int = 1) {
        Self.cached(counters, name, labels) { CoreMetrics.Counter(label: name, dimensions: labels, factory: factory) }
            .increment(by: count)
    }

    /// Records a duration in the histogram `name` with `labels`.
    public func record(_ name: String, _ labels: [(String, String)] = [], nanoseconds: Int64) {
        Self.cached(timers, name, labels) {
            CoreMetrics.Timer(label: name, dimensions: labels, preferredDisplayUnit: .seconds, factory: factory)
        }.recordNanoseconds(nanoseconds)
    }

    /// Records a value in the histogram `name` (batch sizes).
    public func record(_ name: String, value: Int) {
        Self.cached(recorders, name, []) { CoreMetrics.Recorder(label: name, dimensions: [], aggregate: true, factory: factory) }
            .record(value)
    }

    /// Sets the gauge `name`.
    public func set(_ name: String, _ labels: [(String, String)] = [], to value: Double) {
        Self.cached(gauges, name, labels) { CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory) }.record(value)
    }

    /// The metric of `name` and `labels`, made once: swift-metrics handles are meant to be kept, and
    /// making one looks it up in the registry under a lock.
    private static func cached<M: Sendable>(
        _ cache: borrowing Mutex<[Key: M]>, _ name: String, _ labels: [(String, String)], make: () -> M
    ) -> M {
        let key = Key(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        return cache.withLock { cache in
            if let found = cache[key] { return found }
            let made = make()
            cache[key] = made
            return made
        }
    }

    /// Runs `update` before every scrape.
    public func beforeEachScrape(_ update: @escaping @Sendable (TegataMetrics) -> Void) {
        beforeScrape.withLock { $0.append(update) }
    }

    /// The metrics in Prometheus' text exposition format.
    public func exposition() -> String {
        for update in beforeScrape.withLock({ $0 }) { update(self) }
        return registry.emitToString()
    }

    // MARK: The families

    /// A request answered: `tegata_http_requests_total` and `tegata_http_request_duration_seconds`.
    func request(route: String?, method: String, status: Int, nanoseconds: Int64) {
        // The matched route's template; Hummingbird names a request no route matched `NotFound`.
        let route = route.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "unmatched"
        let method = Self.knownMethods.contains(method) ? method : "other"
        increment("tegata_http_requests_total", [("route", route), ("method", method), ("status", "\(status / 100)xx")])
        record("tegata_http_request_duration_seconds", [("route", route), ("method", method)], nanoseconds: nanoseconds)
    }

    private static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// A revocation that took effect: `tegata_revocations_total{kind}`.
    func revoked(_ kind: String) {
        increment("tegata_revocations_total", [("kind", kind)])
    }

    /// A web-session cookie renewal: `tegata_session_cookie_renewals_total{result}`.
    func cookieRenewal(_ result: String) {
        increment("tegata_session_cookie_renewals_total", [("result", result)])
    }

    /// A request refused by a rate limit: `tegata_rate_limit_rejections_total{policy}`.
    func rateLimited(_ policy: RateLimitPolicy) {
        increment("tegata_rate_limit_rejections_total", [("policy", policy.name)])
    }
}
