import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import TegataCore
import TegataStoreSQLite
import TegataTokens

/// Everything the HTTP layer needs, assembled once from the configuration.
public struct TegataServices: Sendable {
    /// The validated configuration.
    public let configuration: TegataConfiguration
    /// The store.
    public let store: any TegataStore
    /// Long-running parts the application runs and shuts down (the database connections).
    public let lifecycle: [any Service]
    /// Derived server secrets.
    public let secrets: ServerSecrets
    /// Signing keys over time (rotation).
    public let keys: ServerKeys
    /// Token contents and lifetimes.
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock
    /// Resource-server clients (introspection, revocation feed).
    public let resourceServers: ResourceServerClients
    /// Access tokens already verified (shared by every request).
    public let verifiedTokens: VerifiedTokenCache
    /// The configured external identity providers.
    public let providers: IdentityProviders
    /// The server's logger.
    public let logger: Logger
    /// The rate limits the grants apply (built once: the in-memory counters live as long as the server).
    public let rateLimits: RateLimits
    /// The per-address limits of the admin API and the webhooks, applied at the edge.
    public let adminLimit: RateLimiter?
    /// See ``adminLimit``.
    public let webhookLimit: RateLimiter?
    /// The server's metrics (served by ``metricsListener`` when one is configured).
    public let metrics: TegataMetrics
    /// The metrics listener, when `TEGATA_METRICS_PORT` is set.
    public let metricsListener: MetricsListener?
    /// The audit trail (its JSON-line stream and, when `TEGATA_AUDIT_TABLE` is on, the table writer).
    public let audit: AuditTrail
    /// The sign-in claims hook (``SignInClaimsHook/off`` unless `TEGATA_CLAIMS_HOOK_URL` is set).
    public let claimsHook: SignInClaimsHook

    /// Opens and migrates the database, loads or generates the keys.
    public static func make(configuration: TegataConfiguration, clock: any TegataClock, logger: Logger) async throws -> TegataServices {
        let metrics = TegataMetrics()
        let storeName = switch configuration.database {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
        let store = try await StoreFactory.open(configuration, observer: StoreMetrics(metrics: metrics, store: storeName), logger: logger)
        do {
            let secrets = ServerSecrets(masterKey: try KeyBootstrap.masterKey(configuration.masterKey, logger: logger))
            let keys = try await KeyBootstrap.serverKeys(
                configuration: configuration, secrets: secrets, store: store, clock: clock,
                retention: configuration.signingKeyRetention, logger: logger)
            let policy = Self.policy(configuration)
            let pruner = SessionPruner(
                store: store, clock: clock, interval: configuration.pruneInterval,
                idleLifetime: configuration.refreshIdleTTL,
                auditRetention: configuration.auditTable ? configuration.auditRetention : nil, logger: logger)
            let reloader = SigningKeyReloader(keys: keys, clock: clock, interval: configuration.keyReloadInterval, logger: logger)
            let table = configuration.auditTable ? AuditTableWriter(store: store, metrics: metrics, logger: logger) : nil
            let audit = try AuditTrail(destination: configuration.auditLog, table: table, metrics: metrics)
            // Services stop in reverse order: the table writer writes its last events before the store closes.
            var lifecycle: [any Service] = [store, pruner, reloader]
            if let table { lifecycle.append(table) }
            let metricsListener = configuration.metricsPort.map {
                MetricsListener(metrics: metrics, host: configuration.metricsHost, port: $0, logger: logger)
            }
            if let metricsListener { lifecycle.append(metricsListener) }
            metrics.beforeEachScrape { metrics in
                // How long the key that signs now has signed (a key from TEGATA_SIGNING_KEY_FILE has no start).
                let now = clock.now()
                if let signing = keys.schedule.keys.last(where: { $0.activatesAt <= now }), signing.activatesAt > .distantPast {
                    metrics.set("tegata_signing_key_age_seconds", to: now.timeIntervalSince(signing.activatesAt))
                }
            }
            let providers = makeProviders(configuration: configuration, clock: clock, metrics: metrics, logger: logger)
            if let refresher = providers?.refresher { lifecycle.append(refresher) }
            var claimsHook = SignInClaimsHook.off
            if let settings = configuration.claimsHook {
                let http = HTTPClaimsHook(settings: settings, clock: clock, logger: logger)
                lifecycle.append(http)
                claimsHook = SignInClaimsHook(source: http, failure: settings.failure) { result in
                    metrics.increment("tegata_claims_hook_calls_total", [("result", result)])
                }
            }
            return TegataServices(
                configuration: configuration, store: store, lifecycle: lifecycle, secrets: secrets, keys: keys,
                policy: policy, clock: clock,
                resourceServers: ResourceServerClients(configured: configuration.introspectionClients.map { ($0.id, $0.secret) }),
                verifiedTokens: VerifiedTokenCache(capacity: configuration.verifiedTokenCacheSize),
                providers: providers?.registry ?? IdentityProviders([]),
                logger: logger, rateLimits: configuration.rateLimits, metrics: metrics, metricsListener: metricsListener,
                audit: audit, claimsHook: claimsHook)
        } catch {
            await store.close()
            throw error
        }
    }

    /// The token policy the configuration sets.
    static func policy(_ configuration: TegataConfiguration) -> TokenPolicy {
        TokenPolicy(
            issuer: configuration.issuer, audience: configuration.audience, clientID: configuration.clientID,
            accessTokenLifetime: configuration.accessTokenTTL, leeway: configuration.clockLeeway,
            sessions: SessionPolicy(idleLifetime: configuration.refreshIdleTTL,
                                    absoluteLifetime: configuration.refreshAbsoluteTTL,
                                    reuseGrace: configuration.refreshReuseGrace))
    }

    private init(
        configuration: TegataConfiguration, store: any TegataStore, lifecycle: [any Service], secrets: ServerSecrets,
        keys: ServerKeys, policy: TokenPolicy, clock: any TegataClock, resourceServers: ResourceServerClients,
        verifiedTokens: VerifiedTokenCache, providers: IdentityProviders, logger: Logger, rateLimits settings: RateLimitSettings,
        metrics: TegataMetrics, metricsListener: MetricsListener?, audit: AuditTrail, claimsHook: SignInClaimsHook
    ) {
        self.claimsHook = claimsHook
        self.audit = audit
        self.metrics = metrics
        self.metricsListener = metricsListener
        self.configuration = configuration
        self.store = store
        self.lifecycle = lifecycle
        self.secrets = secrets
        self.keys = keys
        self.policy = policy
        self.clock = clock
        self.resourceServers = resourceServers
        self.verifiedTokens = verifiedTokens
        self.providers = providers
        self.logger = logger
        func limiter(_ name: RateLimitName) -> RateLimiter? { settings.policy(name).map { RateLimiter(policy: $0) } }
        rateLimits = RateLimits(
            registrationsPerAddress: settings.policy(.registrations),
            failedSignInsPerAddress: limiter(.failedSignIns), signInsPerDevice: limiter(.deviceSignIns),
            failedRefreshesPerAddress: limiter(.failedRefreshes), refreshesPerSession: limiter(.sessionRefreshes),
            exchangesPerAddress: limiter(.exchanges), exchangesPerSubject: limiter(.exchangeSubjects),
            claimsPerAddress: limiter(.deviceClaims))
        adminLimit = limiter(.admin)
        webhookLimit = limiter(.webhooks)
    }

    /// The providers with their key caches, and the service that refreshes them (nil when none is
    /// configured: then no HTTP client is made at all).
    private static func makeProviders(
        configuration: TegataConfiguration, clock: any TegataClock, metrics: TegataMetrics, logger: Logger
    ) -> (registry: IdentityProviders, refresher: ProviderKeysRefresher)? {
        guard !configuration.providers.isEmpty else { return nil }
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(
                redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10))))
        let fetcher = HTTPDocumentFetcher(client: client)
        var keyPolicy = KeySetCache<ExternalKeySet>.Policy()
        keyPolicy.unknownKeyRefetchInterval = configuration.providerKeysRefetchInterval
        let providers = configuration.providers.map { provider in
            IdentityProvider(
                name: provider.name, amr: provider.amr,
                rules: IDTokenRules(
                    issuers: provider.issuers, audiences: provider.audiences, algorithms: provider.algorithms,
                    nonceRequired: provider.nonceRequired || configuration.requireNonce, subjectClaim: provider.subjectClaim, leeway: configuration.clockLeeway,
                    hmacSecret: provider.channelSecret),
                storesEmail: provider.storeEmail,
                keys: KeySetCache(
                    name: provider.name, location: provider.keys, fetcher: fetcher, policy: keyPolicy,
                    now: { clock.now() }, logger: logger,
                    onFetch: { succeeded in
                        metrics.increment(
                            "tegata_provider_key_fetches_total", [("provider", provider.name), ("result", succeeded ? "ok" : "failed")])
                    },
                    parse: { try ExternalKeySet(jwksJSON: $0) }))
        }
        let registry = IdentityProviders(providers)
        return (registry, ProviderKeysRefresher(providers: registry, client: client, logger: logger))
    }

    /// The signing keys of this moment (the key ring changes when a rotation takes effect).
    public var keyRing: KeyRing { keys.ring(at: clock.now()) }

    /// Issues token responses.
    public var tokenIssuer: TokenIssuer { TokenIssuer(keys: keys, secrets: secrets, policy: policy) }

    /// Where the grants report their outcomes (the metrics and the audit trail).
    var securityEvents: any SecurityEventSink { ServerSecurityEvents(metrics: metrics, audit: audit, clock: clock) }

    /// The token-exchange grant (external ID tokens).
    public var tokenExchange: TokenExchange {
        TokenExchange(
            store: store, issuer: tokenIssuer, providers: providers, clock: clock, limits: rateLimits, events: securityEvents, hook: claimsHook)
    }

    /// Linking and unlinking identities.
    public var identityLinking: IdentityLinking {
        IdentityLinking(store: store, providers: providers, clock: clock, leeway: configuration.clockLeeway, hook: claimsHook)
    }

    /// Checks DPoP proofs (RFC 9449): nonces under a key derived from the master key, so every
    /// replica accepts every other's, and used proofs remembered in the store.
    public var dpop: DPoPChecker {
        DPoPChecker(
            settings: configuration.dpop, nonces: DPoPNonces(key: secrets.dpopNonceKey), store: store, clock: clock)
    }

    /// The refresh-token grant.
    public var refreshGrant: RefreshGrant { RefreshGrant(store: store, issuer: tokenIssuer, clock: clock, limits: rateLimits, events: securityEvents) }

    /// The device grant.
    public var deviceSignIn: DeviceSignIn { DeviceSignIn(
        store: store, issuer: tokenIssuer, clock: clock, limits: rateLimits, events: securityEvents, hook: claimsHook,
        claimsOpenUntil: configuration.legacyDeviceClaimsUntil, dpopRequired: configuration.dpop.requiredForDeviceSignIn)
    }

    /// Logout, session list, account deletion.
    public var sessionService: SessionService { SessionService(store: store, policy: policy, clock: clock) }

    /// What operators do to users and sessions (the admin API).
    public var administration: Administration { Administration(store: store, policy: policy, clock: clock) }

    /// RFC 7009 revocation.
    public var tokenRevocation: TokenRevocation {
        TokenRevocation(store: store, secrets: secrets, keys: keys, policy: policy, clock: clock)
    }

    /// RFC 7662 introspection.
    public var introspection: Introspection {
        Introspection(authenticator: authenticator, store: store, secrets: secrets, policy: policy, clock: clock)
    }

    /// Cookie mode for web apps.
    public var webSessions: WebSessions {
        WebSessions(
            authenticator: authenticator, store: store, secrets: secrets, policy: policy,
            cookieLifetime: configuration.sessionCookieTTL, clock: clock, issuer: tokenIssuer,
            pageTokenLifetime: configuration.sessionAccessTokenTTL)
    }

    /// Centrifugo tokens, if configured.
    public var realtimeTokens: RealtimeTokens? {
        guard let signing = configuration.realtimeSigning else { return nil }
        let method: RealtimeTokens.Signing
        switch signing {
        case .hmac(let secret): method = .hmac(SymmetricKey(data: Data(secret.utf8)))
        case .es256: method = .serverKey(keys)
        }
        return RealtimeTokens(
            signing: method, lifetime: configuration.realtimeTokenTTL, namespaces: Set(configuration.realtimeNamespaces), clock: clock)
    }

    /// Authenticates access tokens at Tegata's own endpoints.
    public var authenticator: AccessTokenAuthenticator {
        AccessTokenAuthenticator(keys: keys, policy: policy, store: store, clock: clock, cache: verifiedTokens, dpop: dpop)
    }
}
