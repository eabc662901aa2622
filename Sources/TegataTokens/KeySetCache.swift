import Foundation
import Logging
import Synchronization

/// A document fetched over HTTP, with how long its server says it may be cached.
public struct FetchedDocument: Sendable {
    /// The body.
    public var body: Data
    /// Seconds it may be cached for (`Cache-Control: max-age` less `Age`); nil when not said.
    public var maxAge: TimeInterval?

    /// Creates a fetched document.
    public init(body: Data, maxAge: TimeInterval?) {
        self.body = body
        self.maxAge = maxAge
    }

    /// The freshness lifetime from `Cache-Control` and `Age` (RFC 9111 §4.2.1, §5.1): `no-store` and
    /// `no-cache` give 0, `max-age=N` gives N minus the age; nil when neither says anything.
    public static func lifetime(cacheControl: String?, age: String?) -> TimeInterval? {
        guard let cacheControl else { return nil }
        var maxAge: TimeInterval?
        for directive in cacheControl.split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            switch parts.first {
            case "no-store", "no-cache":
                return 0
            case "max-age":
                guard parts.count == 2, let seconds = Int(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), seconds >= 0
                else { continue }
                maxAge = TimeInterval(seconds)
            default:
                continue
            }
        }
        guard let maxAge else { return nil }
        let used = age.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { TimeInterval(max(0, $0)) } ?? 0
        return max(0, maxAge - used)
    }
}

/// Fetches documents over HTTP (the server and the verifier use AsyncHTTPClient).
public protocol DocumentFetching: Sendable {
    /// GETs `url` and returns the body of a 200 answer; throws for anything else.
    func get(_ url: String) async throws -> FetchedDocument
}

/// Where a key set is published.
public enum KeySetLocation: Sendable, Equatable {
    /// A JWKS URL.
    case jwks(String)
    /// An OpenID discovery document (`…/.well-known/openid-configuration`) whose `jwks_uri` names the
    /// key set and whose `issuer` must be the one expected (OpenID Connect Discovery §4.3).
    case discovery(String, issuer: String)
}

/// A key set could not be had: never fetched successfully, and the source is failing.
public struct KeySetUnavailable: Error, Sendable, CustomStringConvertible {
    /// Which key set, and why (no secret in it: URLs and HTTP statuses only).
    public let description: String
}

/// A cached key set (a provider's JWKS, or Tegata's own for a verifier). It follows the source's
/// `Cache-Control` within bounds, lets one fetch run at a time (every caller waiting for keys shares
/// it), refetches for an unknown `kid` at most once per interval — so that tokens with random `kid`s
/// cannot make it hammer the source — and keeps serving the last good set while the source fails.
public final class KeySetCache<Keys: Sendable>: Sendable {
    /// Bounds and intervals.
    public struct Policy: Sendable, Equatable {
        /// Lifetime when the source gives no `Cache-Control`.
        public var defaultLifetime: TimeInterval = 3_600
        /// Shortest lifetime honoured (a `no-cache` source is not fetched on every token).
        public var minimumLifetime: TimeInterval = 60
        /// Longest lifetime honoured (a key rotation is seen within a day whatever the source says).
        public var maximumLifetime: TimeInterval = 86_400
        /// At most one refetch for an unknown `kid` per this interval.
        public var unknownKeyRefetchInterval: TimeInterval = 60
        /// After a failed fetch, no new attempt before this interval.
        public var failureRetryInterval: TimeInterval = 10

        /// The defaults.
        public init() {}
    }

    private struct State {
        var keys: Keys?
        var expiresAt = Date.distantPast
        var lifetime: TimeInterval = 0
        var lastAttempt: Date?
        var lastFailure: Date?
        var resolvedJWKS: String?
        var inFlight: Task<Keys, any Error>?
    }

    /// A name for logs (the provider's).
    public let name: String
    /// Where the keys are published.
    public let location: KeySetLocation
    private let fetcher: any DocumentFetching
    private let parse: @Sendable (Data) throws -> Keys
    private let policy: Policy
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())
    /// Told of every fetch's end: true when it brought usable keys.
    private let onFetch: @Sendable (_ succeeded: Bool) -> Void

    /// Creates an empty cache; nothing is fetched until keys are asked for (or ``refreshIfDue()``).
    public init(
        name: String, location: KeySetLocation, fetcher: any DocumentFetching, policy: Policy = Policy(),
        now: @escaping @Sendable () -> Date, logger: Logger, onFetch: @escaping @Sendable (_ succeeded: Bool) -> Void = { _ in },
        parse: @escaping @Sendable (Data) throws -> Keys
    ) {
        self.onFetch = onFetch
        self.name = name
        self.location = location
        self.fetcher = fetcher
        self.policy = policy
        self.now = now
        self.logger = logger
        self.parse = parse
    }

    private enum Step {
        case use(Keys)
        case wait(Task<Keys, any Error>, stale: Keys?)
        case unavailable
    }

    /// Fresh keys, fetched if the cached set expired; the stale set if the source fails.
    public func current() async throws -> Keys {
        let step = state.withLock { state -> Step in
            let time = now()
            if let keys = state.keys, time < state.expiresAt { return .use(keys) }
            if let task = state.inFlight { return .wait(task, stale: state.keys) }
            if let failure = state.lastFailure, time < failure.addingTimeInterval(policy.failureRetryInterval) {
                return state.keys.map(Step.use) ?? .unavailable
            }
            return .wait(startFetch(&state, at: time), stale: state.keys)
        }
        return try await settle(step)
    }

    /// A refetch because a token names a `kid` the set does not have. Returns the new set, or nil
    /// when a fetch ran less than the refetch interval ago (or fails): then the `kid` stays unknown.
    public func refetchForUnknownKey() async -> Keys? {
        let step = state.withLock { state -> Step? in
            let time = now()
            if let task = state.inFlight { return .wait(task, stale: nil) }
            if let last = state.lastAttempt, time < last.addingTimeInterval(policy.unknownKeyRefetchInterval) { return nil }
            return .wait(startFetch(&state, at: time), stale: nil)
        }
        guard let step else { return nil }
        return try? await settle(step)
    }

    /// Fetches ahead of expiry (in the last tenth of the lifetime, at most a minute before), so that
    /// requests rarely wait for a fetch; a background refresher calls this periodically.
    public func refreshIfDue() async {
        let step = state.withLock { state -> Step? in
            let time = now()
            guard state.inFlight == nil else { return nil }
            if let failure = state.lastFailure, time < failure.addingTimeInterval(policy.failureRetryInterval) { return nil }
            if state.keys != nil {
                let margin = min(60, state.lifetime / 10)
                guard time >= state.expiresAt.addingTimeInterval(-margin) else { return nil }
            }
            return .wait(startFetch(&state, at: time), stale: state.keys)
        }
        if let step { _ = try? await settle(step) }
    }

    /// The cached set, fresh or not, without fetching.
    public var cached: Keys? { state.withLock { $0.keys } }

    private func settle(_ step: Step) async throws -> Keys {
        switch step {
        case .use(let keys):
            return keys
        case .unavailable:
            throw KeySetUnavailable(description: "the keys of \(name) could not be fetched yet; retrying shortly")
        case .wait(let task, let stale):
            do {
                return try await task.value
            } catch {
                if let stale {
                    logger.warning("serving stale keys: the key source is failing", metadata: ["provider": "\(name)"])
                    return stale
                }
                throw KeySetUnavailable(description: "the keys of \(name) could not be fetched")
            }
        }
    }

    /// Starts the one fetch (under the lock).
    private func startFetch(_ state: inout State, at time: Date) -> Task<Keys, any Error> {
        state.lastAttempt = time
        let resolved = state.resolvedJWKS
        let task = Task { [self] in
            do {
                let (url, document) = try await fetchDocument(resolvedJWKS: resolved)
                let keys = try parse(document.body)
                let lifetime = min(max(document.maxAge ?? policy.defaultLifetime, policy.minimumLifetime), policy.maximumLifetime)
                self.state.withLock {
                    $0.keys = keys
                    $0.expiresAt = now().addingTimeInterval(lifetime)
                    $0.lifetime = lifetime
                    $0.lastFailure = nil
                    $0.resolvedJWKS = url
                    $0.inFlight = nil
                }
                logger.debug("fetched keys", metadata: ["provider": "\(name)", "lifetime": "\(Int(lifetime))"])
                onFetch(true)
                return keys
            } catch {
                self.state.withLock {
                    $0.lastFailure = now()
                    $0.resolvedJWKS = nil
                    $0.inFlight = nil
                }
                logger.error("fetching keys failed", metadata: ["provider": "\(name)", "error": "\(error)"])
                onFetch(false)
                throw error
            }
        }
        state.inFlight = task
        return task
    }

    /// The JWKS document, through discovery when configured so (the resolved `jwks_uri` is reused
    /// until a fetch fails).
    private func fetchDocument(resolvedJWKS: String?) async throws -> (String, FetchedDocument) {
        switch location {
        case .jwks(let url):
            return (url, try await fetcher.get(url))
        case .discovery(let url, let issuer):
            if let resolvedJWKS { return (resolvedJWKS, try await fetcher.get(resolvedJWKS)) }
            let discovery = try await fetcher.get(url)
            let jwksURL = try Self.jwksURI(discovery.body, discoveryURL: url, issuer: issuer)
            return (jwksURL, try await fetcher.get(jwksURL))
        }
    }

    /// The `jwks_uri` of a discovery document whose `issuer` is the expected one. It must be https,
    /// unless the discovery document itself was configured as plain http (local development).
    static func jwksURI(_ body: Data, discoveryURL: String, issuer: String) throws -> String {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw KeySetUnavailable(description: "the discovery document at \(discoveryURL) is not a JSON object")
        }
        guard object["issuer"] as? String == issuer else {
            throw KeySetUnavailable(description: "the discovery document at \(discoveryURL) names another issuer")
        }
        guard let jwks = object["jwks_uri"] as? String, let url = URL(string: jwks), let scheme = url.scheme?.lowercased(),
              scheme == "https" || (scheme == "http" && discoveryURL.lowercased().hasPrefix("http://"))
        else { throw KeySetUnavailable(description: "the discovery document at \(discoveryURL) has no usable jwks_uri") }
        return jwks
    }
}
