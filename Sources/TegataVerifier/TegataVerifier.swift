import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TegataTokens
import TegataWire

/// Verifies Tegata access tokens offline, for resource servers: signature against the issuer's JWKS
/// (found through discovery and cached), then `typ`, `iss`, `aud` and times, then the revocation
/// list the feed follower keeps. No network call is made per request.
///
/// Run it as a `Service` (in the resource server's `ServiceGroup`): `run()` refreshes the keys ahead
/// of expiry and follows the revocation feed.
public final class TegataVerifier: Service, Sendable {
    private struct State {
        var revocations = RevocationList()
        var lastSync: Date?
        var lastLoudLog: Date?
    }

    private let configuration: TegataVerifierConfiguration
    private let keys: KeySetCache<VerificationKeys>
    private let validator: AccessTokenValidator
    private let feed: RevocationFeedClient?
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())
    private let snapshot = Mutex<(keys: VerificationKeys, at: Date)?>(nil)
    private let feedFailures: Counter
    private let uncheckedAcceptances: Counter
    private let refusedForUnknownStatus: Counter
    private let replays: DPoPReplayCache

    /// A verifier for `configuration`, fetching with `httpClient`, reporting to `metricsFactory`.
    /// Every fetch (discovery, keys, the revocation feed) is https only — plain http only to a
    /// loopback issuer — and follows no redirect (``FetchPolicy``): the default client follows none,
    /// and an answer that came through one on a client that does is refused.
    public init(
        configuration: TegataVerifierConfiguration, httpClient: HTTPClient = FetchPolicy.client,
        logger: Logger = Logger(label: "tegata.verifier"), metricsFactory: any MetricsFactory = MetricsSystem.factory,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.now = now
        self.logger = logger
        let issuer = configuration.issuer.hasSuffix("/") ? String(configuration.issuer.dropLast()) : configuration.issuer
        keys = KeySetCache(
            name: "tegata", location: .discovery(issuer + "/.well-known/openid-configuration", issuer: configuration.issuer),
            fetcher: HTTPDocumentFetcher(client: httpClient), policy: configuration.keySetPolicy, now: now, logger: logger
        ) { data in
            VerificationKeys(jwks: try WireCoding.makeDecoder().decode(JWKSDocument.self, from: data))
        }
        validator = AccessTokenValidator(issuer: configuration.issuer, audience: configuration.audience, leeway: configuration.leeway)
        feed = configuration.revocations.map {
            RevocationFeedClient(client: httpClient, issuer: issuer, clientID: $0.clientID, clientSecret: $0.clientSecret)
        }
        feedFailures = Counter(label: "tegata_verifier_revocation_feed_failures_total", factory: metricsFactory)
        uncheckedAcceptances = Counter(label: "tegata_verifier_unchecked_revocation_total", dimensions: [("mode", "fail_open")], factory: metricsFactory)
        replays = DPoPReplayCache(capacity: configuration.dpop.replayCacheCapacity)
        refusedForUnknownStatus = Counter(label: "tegata_verifier_unchecked_revocation_total", dimensions: [("mode", "fail_closed")], factory: metricsFactory)
    }

    /// Verifies `token` (the value after `Bearer `) and returns its claims. A DPoP-bound token
    /// (`cnf.jkt`) is refused here (`.dpopBound`): it is good only with a proof, through
    /// ``verify(_:dpopProof:method:url:)``.
    public func verify(_ token: String) async throws(TegataVerifierError) -> AccessTokenClaims {
        let time = now()
        let claims = try await verifySignatureAndClaims(token, at: time)
        guard claims.cnf == nil else { throw .invalid(.dpopBound) }
        try checkRevocation(claims, at: time)
        return claims
    }

    /// Verifies a token presented as `Authorization: DPoP <token>` with the request's `DPoP`
    /// header field `dpopProof` (RFC 9449 §7.1): the token as ``verify(_:)`` does, bound to a key;
    /// the proof an `ES256` `dpop+jwt` signed by that key (its thumbprint is the token's
    /// `cnf.jkt`), made for `method` and `url` (the URI the client called, without query: your
    /// public base URL and the path — not the address a proxy forwarded to), carrying the token's
    /// hash as `ath`, at most ``TegataVerifierConfiguration/DPoP/maximumAge`` old, and never seen
    /// before by this verifier.
    public func verify(
        _ token: String, dpopProof: String?, method: String, url: String
    ) async throws(TegataVerifierError) -> AccessTokenClaims {
        let time = now()
        let claims = try await verifySignatureAndClaims(token, at: time)
        guard let confirmation = claims.cnf else { throw .invalid(.notDPoPBound) }
        guard let dpopProof else { throw .invalidProof("a DPoP-bound access token needs a DPoP proof in the DPoP header field") }
        let proof: DPoPProof
        do { proof = try DPoPProof.verify(dpopProof) } catch { throw .invalidProof(error.description) }
        guard proof.matches(method: method, url: url) else {
            throw .invalidProof("the DPoP proof was made for another request (its htm and htu must be \(method) and \(url))")
        }
        guard proof.proves(accessToken: token) else { throw .invalidProof("the DPoP proof's ath is not the hash of this access token") }
        guard proof.thumbprint == confirmation.jkt else {
            throw .invalidProof("the DPoP proof is made with another key than the access token is bound to")
        }
        let settings = configuration.dpop
        guard proof.isFresh(at: time, maximumAge: settings.maximumAge, leeway: configuration.leeway) else {
            throw .invalidProof("the DPoP proof's iat is not within \(Int(settings.maximumAge)) s of this server's time")
        }
        try checkRevocation(claims, at: time)
        let until = Date(timeIntervalSince1970: Double(proof.iat) + settings.maximumAge + configuration.leeway)
        switch replays.remember("\(proof.thumbprint) \(proof.jti)", until: until, now: time) {
        case .fresh: return claims
        case .replayed: throw .invalidProof("this DPoP proof was presented before; make a new proof for every request")
        case .full: throw .dpopReplayCacheFull
        }
    }

    /// The signature, header and claims of `token`, not yet its revocation.
    private func verifySignatureAndClaims(_ token: String, at time: Date) async throws(TegataVerifierError) -> AccessTokenClaims {
        guard token.utf8.count <= 8 * 1024 else { throw .invalid(.malformed) }
        // The recent snapshot is taken without an async call; only a stale one goes to the cache.
        let current: VerificationKeys
        if let recent = recentKeys(at: time) { current = recent } else { current = try await currentKeys(at: time) }
        let claims: AccessTokenClaims
        do {
            claims = try current.verifySignature(token)
        } catch where error == .unknownKey {
            // A key published since the last fetch (a rotation), or a made-up kid: refetch, at most
            // once per interval.
            guard let fresh = await keys.refetchForUnknownKey() else { throw .invalid(.unknownKey) }
            snapshot.withLock { $0 = (fresh, time) }
            do { claims = try fresh.verifySignature(token) } catch { throw .invalid(error) }
        } catch {
            throw .invalid(error)
        }
        do { try validator.validate(claims, now: time) } catch { throw .invalid(error) }
        return claims
    }

    /// The key set, taken from the cache at most once a second (the cache's own checks and locks are
    /// generic code that costs a measurable share of a verification when run every time).
    private func recentKeys(at time: Date) -> VerificationKeys? {
        snapshot.withLock { snapshot in
            guard let snapshot, time >= snapshot.at, time.timeIntervalSince(snapshot.at) < 1 else { return nil }
            return snapshot.keys
        }
    }

    private func currentKeys(at time: Date) async throws(TegataVerifierError) -> VerificationKeys {
        if let recent = recentKeys(at: time) { return recent }
        do {
            let current = try await keys.current()
            snapshot.withLock { $0 = (current, time) }
            return current
        } catch {
            throw .keysUnavailable
        }
    }

    private func checkRevocation(_ claims: AccessTokenClaims, at time: Date) throws(TegataVerifierError) {
        guard let settings = configuration.revocations else { return }
        // One look at the state decides everything: revoked, stale, and whether to log loudly.
        let (revoked, stale, lastSync, shouldLog) = state.withLock { state -> (Bool, Bool, Date?, Bool) in
            // Never loaded counts as stale from the first second: until the list has been read
            // once, nothing is known about revocations, whatever the staleness bound says.
            let stale = state.lastSync.map { time.timeIntervalSince($0) > settings.maximumStaleness } ?? true
            let log = stale && (state.lastLoudLog.map { time.timeIntervalSince($0) >= 10 } ?? true)
            if log { state.lastLoudLog = time }
            return (state.revocations.revokes(claims), stale, state.lastSync, log)
        }
        if revoked { throw .revoked }
        guard stale else { return }
        let lastSyncText = lastSync.map { "\($0)" } ?? "never"
        switch settings.failureMode {
        case .failClosed:
            refusedForUnknownStatus.increment()
            if shouldLog { logger.error("revocation feed is stale: refusing tokens (fail-closed)", metadata: ["last_sync": "\(lastSyncText)"]) }
            throw .revocationStatusUnknown
        case .failOpen:
            uncheckedAcceptances.increment()
            if shouldLog { logger.error("revocation feed is stale: accepting tokens unchecked (fail-open)", metadata: ["last_sync": "\(lastSyncText)"]) }
        }
    }

    /// True once the revocation feed has been read at least once (or when none is configured).
    public var isRevocationListLoaded: Bool {
        configuration.revocations == nil || state.withLock { $0.lastSync != nil }
    }

    /// Refreshes the keys ahead of expiry and follows the revocation feed until cancelled or until
    /// graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.refreshKeys() }
                if let feed = self.feed, let settings = self.configuration.revocations {
                    group.addTask { await self.follow(feed, settings: settings) }
                }
            }
        }
    }

    private func refreshKeys() async {
        while !Task.isCancelled {
            await keys.refreshIfDue()
            try? await Task.sleep(for: .seconds(5))
        }
    }

    private func follow(_ feed: RevocationFeedClient, settings: TegataVerifierConfiguration.Revocations) async {
        var cursor: String?
        var failures = 0
        while !Task.isCancelled {
            do {
                let page = try await feed.poll(after: cursor, wait: cursor == nil ? 0 : min(max(settings.wait, 0), 30))
                let time = now()
                state.withLock { state in
                    state.revocations.apply(page.events)
                    state.revocations.prune(now: time)
                    state.lastSync = time
                }
                if failures > 0 { logger.notice("revocation feed reachable again", metadata: ["failures": "\(failures)"]) }
                cursor = page.cursor
                failures = 0
            } catch {
                if Task.isCancelled { return }
                failures += 1
                feedFailures.increment()
                logger.error("revocation feed unreachable", metadata: ["error": "\(error)", "failures": "\(failures)"])
                let backoff = min(0.25 * pow(2, Double(min(failures, 6))), 10)
                try? await Task.sleep(for: .seconds(backoff))
            }
        }
    }
}
