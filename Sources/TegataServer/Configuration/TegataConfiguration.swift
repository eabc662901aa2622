import Foundation
import Logging
import TegataCore
import TegataStoreSQLite
import TegataStorePostgres
import TegataTokens

/// The server's typed configuration, validated when it is loaded. Every key can come from a YAML or
/// JSON file (`--config`) and be overridden by the environment variable `TEGATA_<KEY>`; each key is
/// documented in `docs/configuration.md`.
public struct TegataConfiguration: Sendable {
    /// Address to listen on (`TEGATA_HOST`).
    public var host: String = "127.0.0.1"
    /// Port to listen on (`TEGATA_PORT`); 0 picks a free one.
    public var port: Int = 8080
    /// The issuer URL (`TEGATA_ISSUER`); defaults to `http://<host>:<port>`.
    public var issuer: String
    /// The access-token audience (`TEGATA_AUDIENCE`); defaults to the issuer.
    public var audience: String
    /// The `client_id` claim of tokens issued to apps (`TEGATA_CLIENT_ID`).
    public var clientID: String = "tegata"
    /// Where the data lives (`TEGATA_DATABASE_URL`).
    public var database: DatabaseLocation = .sqlite(path: "./tegata-data/tegata.sqlite")
    /// The master key, if given inline (`TEGATA_MASTER_KEY`, 32 bytes base64). Never printed.
    public var masterKey: MasterKeySource = .developmentFile(path: "./tegata-data/master.key")
    /// A PEM file with the ES256 signing key, if the operator supplies one (`TEGATA_SIGNING_KEY_FILE`).
    public var signingKeyFile: String?
    /// Access-token lifetime (`TEGATA_ACCESS_TOKEN_TTL`).
    public var accessTokenTTL: TimeInterval = 900
    /// Session idle lifetime (`TEGATA_REFRESH_IDLE_TTL`).
    public var refreshIdleTTL: TimeInterval = 30 * 86_400
    /// Session absolute lifetime (`TEGATA_REFRESH_ABSOLUTE_TTL`).
    public var refreshAbsoluteTTL: TimeInterval = 365 * 86_400
    /// How long the immediately preceding refresh token still gets the current one
    /// (`TEGATA_REFRESH_REUSE_GRACE`; 0 disables).
    public var refreshReuseGrace: TimeInterval = 10
    /// Resource-server clients for introspection and the revocation feed (`TEGATA_INTROSPECTION_CLIENTS`).
    public var introspectionClients: [ClientCredential] = []
    /// How often ended sessions and expired revocation events are deleted (`TEGATA_PRUNE_INTERVAL`).
    public var pruneInterval: TimeInterval = 600
    /// SQLite's `synchronous` setting (`TEGATA_SQLITE_SYNCHRONOUS`): `full` survives power loss,
    /// `normal` survives a crash of the process only.
    public var sqliteSynchronous: SQLiteSynchronous = .full
    /// SQLite's page cache per connection and memory map (`TEGATA_SQLITE_CACHE_MIB`, `TEGATA_SQLITE_MMAP_MIB`).
    public var sqliteMemory: SQLiteMemory = .standard
    /// The most connections one replica opens to PostgreSQL (`TEGATA_DATABASE_POOL_SIZE`).
    public var databasePoolSize = 10
    /// How long a PostgreSQL request waits for a row lock before it is answered 503
    /// (`TEGATA_DATABASE_LOCK_TIMEOUT`); for a free connection of the pool it waits this long, or
    /// 5 s if that is longer (the time connecting is given).
    public var databaseLockTimeout: TimeInterval = 5
    /// How many verified access tokens are remembered (`TEGATA_VERIFIED_TOKEN_CACHE_SIZE`; 0 disables).
    public var verifiedTokenCacheSize: Int = 20_000
    /// Clock leeway for `exp`/`nbf`/`iat` (`TEGATA_CLOCK_LEEWAY`).
    public var clockLeeway: TimeInterval = 30
    /// Largest accepted request body in bytes (`TEGATA_MAX_BODY_SIZE`).
    public var maxBodySize: Int = 64 * 1024
    /// `Cache-Control: max-age` of the JWKS and discovery documents (`TEGATA_JWKS_MAX_AGE`). A key
    /// rotation publishes the new key this long before it signs.
    public var jwksMaxAge: TimeInterval = 300
    /// How often the signing-key schedule is taken from the store again, so a rotation made at
    /// another replica is published here (`TEGATA_KEY_RELOAD_INTERVAL`). Shorter than `jwksMaxAge`.
    public var keyReloadInterval: TimeInterval = 10
    /// External identity providers for the token exchange and identity links (`TEGATA_PROVIDERS`).
    public var providers: [ProviderConfiguration] = []
    /// How long a connection may take to send a complete request head, counted from its opening or
    /// from its previous response (`TEGATA_HTTP_HEAD_TIMEOUT`, default 30 s): idle keep-alive
    /// connections and trickled headers are closed past it.
    public var httpHeadTimeout: TimeInterval = 30
    /// How long a request body may take to arrive after its head (`TEGATA_HTTP_BODY_TIMEOUT`, default 30 s).
    public var httpBodyTimeout: TimeInterval = 30
    /// Whether every provider requires a nonce, whatever its own `nonce_required` says
    /// (`TEGATA_REQUIRE_NONCE`, default false).
    public var requireNonce = false
    /// At most one refetch of a provider's keys per this interval when a token names an unknown `kid`
    /// (`TEGATA_PROVIDER_KEYS_REFETCH_INTERVAL`).
    public var providerKeysRefetchInterval: TimeInterval = 60
    /// The signing secret of the Stripe webhook endpoint (`TEGATA_STRIPE_WEBHOOK_SECRET`, `whsec_…`).
    /// Unset: `POST /v1/webhooks/stripe` answers 404. Never printed.
    public var stripeWebhookSecret: String?
    /// Which Stripe price or product ids grant which entitlement names (`TEGATA_STRIPE_ENTITLEMENTS`).
    public var stripeEntitlements: [String: [String]] = [:]
    /// The exact `Authorization` value RevenueCat sends (`TEGATA_REVENUECAT_WEBHOOK_AUTH`). Unset:
    /// `POST /v1/webhooks/revenuecat` answers 404. Never printed.
    public var revenueCatWebhookAuth: String?
    /// The web-session cookie's name (`TEGATA_SESSION_COOKIE_NAME`); nil: `__Host-tegata_session`,
    /// or `tegata_session` when the cookie cannot be Secure (a plain-http loopback issuer).
    public var sessionCookieName: String?
    /// The cookie's `SameSite` (`TEGATA_SESSION_COOKIE_SAMESITE`).
    public var sessionCookieSameSite: SameSite = .lax
    /// How long a web-session cookie lives after its last renewal (`TEGATA_SESSION_COOKIE_TTL`).
    public var sessionCookieTTL: TimeInterval = 7 * 86_400
    /// Lifetime of the access token `GET`/`POST /v1/session` give the page, capped by the cookie's
    /// expiry (`TEGATA_SESSION_ACCESS_TOKEN_TTL`).
    public var sessionAccessTokenTTL: TimeInterval = 300
    /// Web origins allowed to make credentialed cross-origin requests and cookie-authenticated
    /// unsafe requests (`TEGATA_ALLOWED_ORIGINS`).
    public var allowedOrigins: [String] = []
    /// Proxies whose `Forwarded` / `X-Forwarded-For` fields name the client
    /// (`TEGATA_TRUSTED_PROXIES`, addresses or CIDR networks); empty: the socket's peer is the client.
    public var trustedProxies: [IPNetwork] = []
    /// The one forwarding field the trusted proxies write (`TEGATA_FORWARDED_HEADER`); the other is ignored.
    public var forwardedHeader: ClientAddressResolver.ForwardingField = .xForwardedFor
    /// Where the metrics listener listens (`TEGATA_METRICS_HOST`): loopback by default, never the
    /// public listener.
    public var metricsHost: String = "127.0.0.1"
    /// The metrics listener's port (`TEGATA_METRICS_PORT`); nil: no metrics listener.
    public var metricsPort: Int?
    /// The rate limits (`TEGATA_RATE_LIMIT_ENABLED`, `TEGATA_RATE_LIMIT_<NAME>`); all on by default.
    public var rateLimits = RateLimitSettings()
    /// How realtime (Centrifugo) tokens are signed (`TEGATA_REALTIME_SIGNING`, `TEGATA_REALTIME_HMAC_SECRET`);
    /// nil: the realtime endpoints answer 404.
    public var realtimeSigning: RealtimeSigning?
    /// Realtime token lifetime (`TEGATA_REALTIME_TOKEN_TTL`).
    public var realtimeTokenTTL: TimeInterval = 600
    /// Channel namespaces that subscription tokens are issued for (`TEGATA_REALTIME_NAMESPACES`).
    public var realtimeNamespaces: [String] = []
    /// The bearer key of the admin API (`TEGATA_ADMIN_API_KEY`, at least 32 characters). Unset: every
    /// `/admin/v1/*` path answers 404. Never printed.
    public var adminAPIKey: String?
    /// Until when `POST /v1/auth/device/claim` lets a legacy app claim an imported device
    /// (`TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL`, an RFC 3339 time at most 366 days after start-up); nil,
    /// the default: claims are refused. docs/migration.md says what it is for and what it risks.
    public var legacyDeviceClaimsUntil: Date?
    /// The sign-in claims hook (`TEGATA_CLAIMS_HOOK_URL` and its settings); nil: none.
    public var claimsHook: ClaimsHookSettings?
    /// Where audit events go as JSON lines (`TEGATA_AUDIT_LOG`: `stderr`, `stdout`, `off` or a file path).
    public var auditLog: AuditLogDestination = .standardError
    /// Whether audit events are also kept in the database's audit table (`TEGATA_AUDIT_TABLE`),
    /// readable with `tegata audit`.
    public var auditTable = false
    /// How long the audit table keeps an event (`TEGATA_AUDIT_RETENTION`).
    public var auditRetention: TimeInterval = 90 * 86_400
    /// DPoP (RFC 9449): whether device sign-in requires a proof (`TEGATA_DPOP_DEVICE_SIGN_IN`) and
    /// whether every proof needs a server nonce (`TEGATA_DPOP_NONCE`); the `iat` leeway is
    /// `TEGATA_CLOCK_LEEWAY`'s.
    public var dpop = DPoPSettings()
    /// Log level (`TEGATA_LOG_LEVEL`).
    public var logLevel: Logger.Level = .info
    /// Log format (`TEGATA_LOG_FORMAT`).
    public var logFormat: LogFormat = .text

    /// A client id and secret from configuration. The secret is never printed.
    public struct ClientCredential: Sendable, Equatable, CustomStringConvertible {
        /// The client id.
        public var id: String
        /// The client secret.
        public var secret: String

        /// Creates a credential.
        public init(id: String, secret: String) {
            self.id = id
            self.secret = secret
        }

        /// `id:<redacted>`.
        public var description: String { "\(id):<redacted>" }
    }

    /// Where data is stored.
    public enum DatabaseLocation: Sendable, Equatable {
        /// An embedded SQLite database file.
        case sqlite(path: String)
        /// A PostgreSQL database (several replicas may share it).
        case postgres(PostgresURL)
    }

    /// Where the master key comes from.
    public enum MasterKeySource: Sendable {
        /// Given in configuration (production).
        case inline(Data)
        /// A key file; generated with mode 0600 if missing (development).
        case developmentFile(path: String)
    }

    /// The cookie's `SameSite` attribute.
    public enum SameSite: String, Sendable {
        /// Sent on same-site requests and top-level navigations (the default).
        case lax
        /// Sent on same-site requests only.
        case strict
        /// Sent on cross-site requests too (needs Secure).
        case none

        /// The attribute value.
        public var attribute: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
    }

    /// How realtime tokens are signed.
    public enum RealtimeSigning: Sendable, Equatable, CustomStringConvertible {
        /// HS256 with a secret Centrifugo shares.
        case hmac(secret: String)
        /// ES256 with the server's key, published in the JWKS.
        case es256

        /// Never shows the secret.
        public var description: String {
            switch self {
            case .hmac: "hmac(<redacted>)"
            case .es256: "es256"
            }
        }
    }

    /// Whether the session cookie carries `Secure`: always, except for a plain-http issuer on a
    /// loopback host (local development), where a browser would never send it back.
    public var sessionCookieSecure: Bool {
        guard let url = URL(string: issuer), url.scheme?.lowercased() == "http" else { return true }
        return !FetchPolicy.isLoopback(host: url.host ?? "")
    }

    /// The session cookie's name.
    public var effectiveSessionCookieName: String {
        sessionCookieName ?? (sessionCookieSecure ? "__Host-tegata_session" : "tegata_session")
    }

    /// How long a signing key stays published after a rotation replaced it: the longest lifetime of a
    /// token it signed (access tokens; realtime tokens when they are signed with the server key), plus
    /// the clock leeway.
    public var signingKeyRetention: TimeInterval {
        var longest = accessTokenTTL
        if case .es256 = realtimeSigning { longest = max(longest, realtimeTokenTTL) }
        return longest + clockLeeway
    }

    /// Log line format.
    public enum LogFormat: String, Sendable {
        /// Human-readable lines.
        case text
        /// One JSON object per line.
        case json
    }

    /// A configuration with every default, for the given data directory (tests use a temporary one).
    public init(dataDirectory: String = "./tegata-data") {
        database = .sqlite(path: (dataDirectory as NSString).appendingPathComponent("tegata.sqlite"))
        masterKey = .developmentFile(path: (dataDirectory as NSString).appendingPathComponent("master.key"))
        issuer = "http://127.0.0.1:8080"
        audience = issuer
    }

    /// The directory that holds the database (and a development master key).
    public var dataDirectory: String {
        switch database {
        case .sqlite(let path): (path as NSString).deletingLastPathComponent
        case .postgres: "./tegata-data"
        }
    }
}

/// The sign-in claims hook's settings: where it is, the Standard Webhooks signing key, how long a
/// call may take, what a failure does.
public struct ClaimsHookSettings: Sendable, Equatable {
    /// The endpoint (https; plain http only to a loopback host).
    public var url: URL
    /// The signing key (`TEGATA_CLAIMS_HOOK_SECRET`, `whsec_…`, decoded).
    public var key: [UInt8]
    /// The longest a call may take, connection included (`TEGATA_CLAIMS_HOOK_TIMEOUT`, 2 s).
    public var timeout: TimeInterval = 2
    /// What a failing hook does (`TEGATA_CLAIMS_HOOK_FAILURE`: `refuse`, the default, or `allow`).
    public var failure: SignInClaimsHook.FailureMode = .refuse

    /// Creates the settings.
    public init(url: URL, key: [UInt8], timeout: TimeInterval = 2, failure: SignInClaimsHook.FailureMode = .refuse) {
        self.url = url
        self.key = key
        self.timeout = timeout
        self.failure = failure
    }
}
