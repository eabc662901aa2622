import AsyncHTTPClient
import CoreMetrics
import Foundation
import TegataTokens
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import TegataWire

/// The migration adapter's check: is the device a legacy client names registered to the user it
/// names? Asks Tegata's `POST /v1/devices/check` (resource-server client credentials) and caches
/// the answer briefly; concurrent requests for the same pair share one call.
///
/// Temporary and weaker than tokens: the legacy headers are bearer values that never expire, and
/// anyone who learns a device id and its user id passes. Every request it decides is counted in
/// `tegata_verifier_legacy_header_requests_total{result="accepted"|"refused"|"unavailable"}`, so the
/// operator sees when no client uses the headers any more and the adapter can be removed.
public final class LegacyDeviceCheck: Sendable {
    /// Settings of the check.
    public struct Configuration: Sendable {
        /// Tegata's issuer URL.
        public var issuer: String
        /// The resource-server client's id (as in `TEGATA_INTROSPECTION_CLIENTS`).
        public var clientID: String
        /// The resource-server client's secret. Never logged.
        public var clientSecret: String
        /// How long a "registered" answer is reused. Default 60 s: a device moved to another user or
        /// deleted in Tegata is refused at most this long after.
        public var cacheLifetime: TimeInterval = 60
        /// How long a "not registered" answer is reused. Default 10 s.
        public var negativeCacheLifetime: TimeInterval = 10
        /// Most remembered answers. Default 10 000.
        public var maximumEntries = 10_000
        /// How long one call to Tegata may take. Default 5 s.
        public var timeout: TimeInterval = 5

        /// Settings for checking against `issuer` as the resource-server client `clientID`.
        public init(issuer: String, clientID: String, clientSecret: String) {
            self.issuer = issuer
            self.clientID = clientID
            self.clientSecret = clientSecret
        }
    }

    private struct Pair: Hashable {
        let deviceID: String
        let userID: String
    }

    private enum Entry {
        case known(Bool, until: Date)
        case pending(Task<Bool, any Error>)
    }

    private let configuration: Configuration
    private let client: HTTPClient
    private let url: String
    private let authorization: String
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let entries = Mutex<[Pair: Entry]>([:])
    private let lastLog = Mutex<Date?>(nil)
    private let accepted: Counter
    private let refused: Counter
    private let unavailable: Counter

    /// A check with `configuration`, calling Tegata through `httpClient`.
    public init(
        configuration: Configuration, httpClient: HTTPClient = FetchPolicy.client, logger: Logger = Logger(label: "tegata.verifier.legacy"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        client = httpClient
        url = tegataEndpoint(configuration.issuer, "v1/devices/check")
        authorization = basicAuthorization(clientID: configuration.clientID, clientSecret: configuration.clientSecret)
        self.now = now
        self.logger = logger
        let label = "tegata_verifier_legacy_header_requests_total"
        accepted = Counter(label: label, dimensions: [("result", "accepted")], factory: metricsFactory)
        refused = Counter(label: label, dimensions: [("result", "refused")], factory: metricsFactory)
        unavailable = Counter(label: label, dimensions: [("result", "unavailable")], factory: metricsFactory)
    }

    /// Whether `deviceID` is registered to `userID` in Tegata. Ids of the wrong shape are refused
    /// without a call. Throws `legacyCheckUnavailable` when Tegata cannot be asked (and nothing is cached).
    public func isRegistered(deviceID: String, userID: String) async throws(TegataVerifierError) -> Bool {
        guard WireIdentifier.isDeviceID(deviceID), WireIdentifier.isUserID(userID) else {
            refused.increment()
            return false
        }
        let pair = Pair(deviceID: deviceID, userID: userID)
        let time = now()
        let task: Task<Bool, any Error>
        let cached: Bool? = entries.withLock { entries in
            if case .known(let answer, let until) = entries[pair], until > time { return answer }
            return nil
        }
        if let cached { return count(cached) }
        task = entries.withLock { entries in
            if case .pending(let running) = entries[pair] { return running }
            let running = Task { try await self.ask(pair) }
            entries[pair] = .pending(running)
            return running
        }
        do {
            let answer = try await task.value
            remember(answer, for: pair, at: now())
            return count(answer)
        } catch {
            entries.withLock { entries in
                if case .pending(let running) = entries[pair], running == task { entries[pair] = nil }
            }
            unavailable.increment()
            logger.error("cannot check a legacy device with Tegata", metadata: ["error": "\(error)"])
            throw .legacyCheckUnavailable
        }
    }

    private func count(_ answer: Bool) -> Bool {
        if answer {
            accepted.increment()
            let time = now()
            let shouldLog = lastLog.withLock { last in
                guard last.map({ time.timeIntervalSince($0) >= 60 }) ?? true else { return false }
                last = time
                return true
            }
            if shouldLog {
                logger.warning("accepting legacy device headers (weaker than access tokens); remove the adapter once tegata_verifier_legacy_header_requests_total{result=\"accepted\"} stays flat")
            }
        } else {
            refused.increment()
        }
        return answer
    }

    private func remember(_ answer: Bool, for pair: Pair, at time: Date) {
        let lifetime = answer ? configuration.cacheLifetime : configuration.negativeCacheLifetime
        entries.withLock { entries in
            if entries.count >= configuration.maximumEntries {
                entries = entries.filter { _, entry in
                    if case .known(_, let until) = entry { return until > time }
                    return true
                }
                if entries.count >= configuration.maximumEntries {
                    entries = entries.filter { _, entry in if case .pending = entry { true } else { false } }
                }
            }
            entries[pair] = .known(answer, until: time.addingTimeInterval(lifetime))
        }
    }

    private func ask(_ pair: Pair) async throws -> Bool {
        try FetchPolicy.check(url)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        let body = try WireCoding.makeEncoder().encode(DeviceCheckRequest(deviceID: pair.deviceID, userID: pair.userID))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .milliseconds(Int64(configuration.timeout * 1000)))
        try FetchPolicy.checkNoRedirect(response)
        guard response.status == .ok else {
            throw ResourceServerCallFailure(description: "POST /v1/devices/check answered \(response.status.code)")
        }
        let data = try await response.body.collect(upTo: 64 * 1024)
        do {
            return try WireCoding.makeDecoder().decode(DeviceCheckResponse.self, from: Data(data.readableBytesView)).registered
        } catch {
            throw ResourceServerCallFailure(description: "POST /v1/devices/check answered a body that is not a check result")
        }
    }
}
