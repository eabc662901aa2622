import Foundation
import Logging
import TegataCore
import TegataWire
import TegataStoreSQLite
import TegataStorePostgres
import TegataTokens
import Yams

/// A configuration problem, naming the key (as its environment variable) so the operator can fix it.
/// Never repeats a secret value.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The environment-variable name of the key, e.g. `TEGATA_PORT`.
    public var key: String
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    /// `invalid configuration: KEY: message`.
    public var description: String { "invalid configuration: \(key): \(message)" }
}

extension TegataConfiguration {
    /// Every key, as written in a configuration file; the environment variable is `TEGATA_` + uppercase.
    public static let keys: [String] = [
        "host", "port", "issuer", "audience", "client_id", "database_url", "master_key", "master_key_file",
        "signing_key_file", "access_token_ttl", "refresh_idle_ttl", "refresh_absolute_ttl", "refresh_reuse_grace",
        "introspection_clients", "prune_interval", "sqlite_synchronous", "sqlite_cache_mib", "sqlite_mmap_mib", "database_pool_size", "database_lock_timeout", "key_reload_interval", "verified_token_cache_size", "clock_leeway", "max_body_size", "jwks_max_age", "log_level",
        "log_format", "http_head_timeout", "http_body_timeout", "providers", "require_nonce", "provider_keys_refetch_interval", "stripe_webhook_secret", "stripe_entitlements",
        "revenuecat_webhook_auth", "session_cookie_name", "session_cookie_samesite", "session_cookie_ttl", "session_access_token_ttl", "allowed_origins",
        "trusted_proxies", "forwarded_header", "metrics_host", "metrics_port", "audit_log", "audit_table", "audit_retention",
        "rate_limit_enabled",
    ] + RateLimitName.allCases.map(\.key) + [
        "realtime_signing", "realtime_hmac_secret", "realtime_token_ttl", "realtime_namespaces", "admin_api_key",
        "claims_hook_url", "claims_hook_secret", "claims_hook_timeout", "claims_hook_failure", "legacy_device_claims_until",
        "dpop_device_sign_in", "dpop_nonce",
    ]

    /// Keys whose value is structured (a mapping in a file; JSON or YAML text in the environment).
    static let structuredKeys: Set<String> = ["providers", "stripe_entitlements"]

    /// Keys whose values are secret and never appear in messages.
    static let secretKeys: Set<String> = ["master_key", "introspection_clients", "stripe_webhook_secret", "revenuecat_webhook_auth", "realtime_hmac_secret", "admin_api_key", "claims_hook_secret"]

    /// The environment-variable name of a key.
    public static func environmentName(of key: String) -> String { "TEGATA_" + key.uppercased() }

    /// Loads and validates the configuration: defaults, then the file (YAML or JSON) if given, then
    /// `TEGATA_*` environment variables. Throws ``ConfigurationError`` naming the first bad key.
    public static func load(file: String?, environment: [String: String]) throws -> TegataConfiguration {
        var values: [String: String] = [:]
        if let file {
            values = try readFile(file)
        }
        for key in keys {
            if let value = environment[environmentName(of: key)] { values[key] = value }
        }
        return try TegataConfiguration(values: values)
    }

    /// Reads a flat YAML or JSON mapping of keys to scalars.
    static func readFile(_ path: String) throws -> [String: String] {
        let key = "--config"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(key: key, message: "cannot read the file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(key: key, message: "\(path) is not UTF-8 text")
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)  // YAML 1.2 is a superset of JSON
        } catch {
            throw ConfigurationError(key: key, message: "\(path) is neither valid YAML nor JSON")
        }
        guard let parsed else { return [:] }
        guard let mapping = parsed as? [String: Any] else {
            throw ConfigurationError(key: key, message: "\(path) must be a mapping of keys to values")
        }
        var values: [String: String] = [:]
        for (name, value) in mapping {
            guard keys.contains(name) else {
                throw ConfigurationError(key: key, message: "\(path): unknown key \"\(name)\" (known: \(keys.joined(separator: ", ")))")
            }
            switch value {
            case let string as String: values[name] = string
            case let bool as Bool: values[name] = bool ? "true" : "false"
            case let int as Int: values[name] = String(int)
            case let double as Double: values[name] = String(double)
            case let structured where structuredKeys.contains(name) && JSONSerialization.isValidJSONObject(structured):
                let data = try JSONSerialization.data(withJSONObject: structured, options: [.sortedKeys])
                values[name] = String(decoding: data, as: UTF8.self)
            default:
                throw ConfigurationError(key: environmentName(of: name), message: "must be a single value")
            }
        }
        return values
    }

    /// Builds a validated configuration from raw key/value strings.
    init(values: [String: String]) throws {
        var config = TegataConfiguration()
        func fail(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError(key: Self.environmentName(of: key), message: message)
        }
        func shown(_ key: String, _ value: String) -> String {
            Self.secretKeys.contains(key) ? "" : " (got \"\(value.prefix(80))\")"
        }
        func nonEmpty(_ key: String) throws -> String? {
            guard let value = values[key]?.trimmingCharacters(in: .whitespaces) else { return nil }
            guard !value.isEmpty else { throw fail(key, "must not be empty") }
            return value
        }
        func duration(_ key: String, range: ClosedRange<TimeInterval>) throws -> TimeInterval? {
            guard let value = try nonEmpty(key) else { return nil }
            guard let seconds = Self.parseDuration(value) else {
                throw fail(key, "must be a duration such as 900, 900s, 15m, 12h or 30d" + shown(key, value))
            }
            guard range.contains(seconds) else {
                func text(_ seconds: TimeInterval) -> String { seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)" }
                throw fail(key, "must be between \(text(range.lowerBound))s and \(text(range.upperBound))s" + shown(key, value))
            }
            return seconds
        }

        if let host = try nonEmpty("host") { config.host = host }
        if let port = try nonEmpty("port") {
            guard let number = Int(port), (0...65_535).contains(number) else {
                throw fail("port", "must be an integer from 0 to 65535" + shown("port", port))
            }
            config.port = number
        }
        if let url = try nonEmpty("database_url") {
            config.database = try Self.parseDatabaseURL(url, fail: { fail("database_url", $0) })
        }
        let dataDirectory = config.dataDirectory
        let masterKeyConfigured = try nonEmpty("master_key") != nil || nonEmpty("master_key_file") != nil
        if let file = try nonEmpty("master_key_file") {
            config.masterKey = .developmentFile(path: file)
        } else {
            config.masterKey = .developmentFile(path: (dataDirectory as NSString).appendingPathComponent("master.key"))
        }
        if let key = try nonEmpty("master_key") {
            guard let data = Self.decodeKey(key), data.count == 32 else {
                throw fail("master_key", "must be 32 random bytes in base64 (e.g. the output of `openssl rand -base64 32`)")
            }
            config.masterKey = .inline(data)
        }
        if let file = try nonEmpty("signing_key_file") { config.signingKeyFile = file }
        if let ttl = try duration("access_token_ttl", range: 30...86_400) { config.accessTokenTTL = ttl }
        if let ttl = try duration("refresh_idle_ttl", range: 60...(10 * 365 * 86_400)) { config.refreshIdleTTL = ttl }
        if let ttl = try duration("refresh_absolute_ttl", range: 60...(10 * 365 * 86_400)) { config.refreshAbsoluteTTL = ttl }
        guard config.refreshIdleTTL <= config.refreshAbsoluteTTL else {
            throw fail("refresh_idle_ttl", "must not be longer than TEGATA_REFRESH_ABSOLUTE_TTL")
        }
        if let grace = try duration("refresh_reuse_grace", range: 0...300) { config.refreshReuseGrace = grace }
        if let interval = try duration("prune_interval", range: 10...86_400) { config.pruneInterval = interval }
        if let clients = try nonEmpty("introspection_clients") {
            config.introspectionClients = try Self.parseClients(clients, fail: { fail("introspection_clients", $0) })
        }
        if let size = try nonEmpty("database_pool_size") {
            guard let number = Int(size), (1...1_000).contains(number) else {
                throw fail("database_pool_size", "must be an integer from 1 to 1000" + shown("database_pool_size", size))
            }
            config.databasePoolSize = number
        }
        if let timeout = try duration("database_lock_timeout", range: 1...60) { config.databaseLockTimeout = timeout }
        if case .postgres = config.database, !masterKeyConfigured {
            throw fail("database_url", "PostgreSQL serves several replicas, which must share one master key: set TEGATA_MASTER_KEY or TEGATA_MASTER_KEY_FILE")
        }
        if let mode = try nonEmpty("sqlite_synchronous") {
            guard let parsed = SQLiteSynchronous(rawValue: mode.lowercased()) else {
                throw fail("sqlite_synchronous", "must be full or normal" + shown("sqlite_synchronous", mode))
            }
            config.sqliteSynchronous = parsed
        }
        if let size = try nonEmpty("sqlite_cache_mib") {
            guard let mib = Int(size), (1...4_096).contains(mib) else {
                throw fail("sqlite_cache_mib", "must be a number of MiB from 1 to 4096" + shown("sqlite_cache_mib", size))
            }
            config.sqliteMemory.cacheMiB = mib
        }
        if let size = try nonEmpty("sqlite_mmap_mib") {
            guard let mib = Int(size), (0...2_047).contains(mib) else {
                throw fail("sqlite_mmap_mib", "must be a number of MiB from 0 (off) to 2047" + shown("sqlite_mmap_mib", size))
            }
            config.sqliteMemory.mmapMiB = mib
        }
        if let size = try nonEmpty("verified_token_cache_size") {
            guard let entries = Int(size), (0...1_000_000).contains(entries) else {
                throw fail("verified_token_cache_size", "must be a number from 0 to 1000000" + shown("verified_token_cache_size", size))
            }
            config.verifiedTokenCacheSize = entries
        }
        if let leeway = try duration("clock_leeway", range: 0...300) { config.clockLeeway = leeway }
        config.dpop.leeway = config.clockLeeway
        if let age = try duration("jwks_max_age", range: 0...86_400) { config.jwksMaxAge = age }
        if let interval = try duration("key_reload_interval", range: 1...3_600) { config.keyReloadInterval = interval }
        // A planned rotation publishes its key jwks_max_age before it signs: every replica must
        // have reloaded (and published it) by then.
        if config.jwksMaxAge > 0, config.keyReloadInterval >= config.jwksMaxAge {
            throw fail("key_reload_interval", "must be shorter than jwks_max_age (\(Int(config.jwksMaxAge)) s), so every replica publishes a new key before any signs with it")
        }
        if let size = try nonEmpty("max_body_size") {
            guard let bytes = Int(size), (1024...(16 * 1024 * 1024)).contains(bytes) else {
                throw fail("max_body_size", "must be a number of bytes from 1024 to 16777216" + shown("max_body_size", size))
            }
            config.maxBodySize = bytes
        }
        if let level = try nonEmpty("log_level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw fail("log_level", "must be one of trace, debug, info, notice, warning, error, critical" + shown("log_level", level))
            }
            config.logLevel = parsed
        }
        if let format = try nonEmpty("log_format") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw fail("log_format", "must be text or json" + shown("log_format", format))
            }
            config.logFormat = parsed
        }
        if let client = try nonEmpty("client_id") { config.clientID = client }
        if let seconds = try duration("http_head_timeout", range: 1...3_600) { config.httpHeadTimeout = seconds }
        if let seconds = try duration("http_body_timeout", range: 1...3_600) { config.httpBodyTimeout = seconds }
        if let text = try nonEmpty("require_nonce") {
            switch text.lowercased() {
            case "true", "1", "yes": config.requireNonce = true
            case "false", "0", "no": config.requireNonce = false
            default: throw fail("require_nonce", "must be true or false" + shown("require_nonce", text))
            }
        }
        if let providers = try nonEmpty("providers") {
            config.providers = try ProviderConfiguration.parseAll(providers, fail: { fail("providers", $0) })
        }
        if let interval = try duration("provider_keys_refetch_interval", range: 1...86_400) {
            config.providerKeysRefetchInterval = interval
        }
        if let secret = try nonEmpty("stripe_webhook_secret") {
            guard secret.count >= 16 else {
                throw fail("stripe_webhook_secret", "must be the endpoint's signing secret from Stripe (whsec_…)")
            }
            config.stripeWebhookSecret = secret
        }
        if let mapping = try nonEmpty("stripe_entitlements") {
            config.stripeEntitlements = try Self.parseStripeEntitlements(mapping, fail: { fail("stripe_entitlements", $0) })
        }
        if let auth = values["revenuecat_webhook_auth"] {
            // Compared byte for byte with what RevenueCat sends, so it is taken untrimmed.
            guard auth.count >= 16 else {
                throw fail("revenuecat_webhook_auth", "must be at least 16 characters (the exact Authorization value set on RevenueCat's dashboard)")
            }
            config.revenueCatWebhookAuth = auth
        }
        if let key = try nonEmpty("admin_api_key") {
            guard key.count >= 32, key.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
                throw fail("admin_api_key", "must be at least 32 printable ASCII characters without spaces (e.g. `openssl rand -base64 32`)")
            }
            config.adminAPIKey = key
        }
        if let text = try nonEmpty("legacy_device_claims_until") {
            guard let until = WireTime.rfc3339(text) else {
                throw fail("legacy_device_claims_until", "must be an RFC 3339 time such as 2026-12-31T00:00:00Z" + shown("legacy_device_claims_until", text))
            }
            // A claim is only as strong as the legacy headers it replaces: the window must end.
            guard until.timeIntervalSinceNow <= 366 * 86_400 else {
                throw fail("legacy_device_claims_until", "must be at most 366 days from now: claims are a migration step, not a way to sign in")
            }
            config.legacyDeviceClaimsUntil = until
        }
        if let url = try nonEmpty("claims_hook_url") {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host, !host.isEmpty,
                  scheme == "https" || (scheme == "http" && FetchPolicy.isLoopback(host: host))
            else {
                throw fail("claims_hook_url", "must be an https URL (plain http only to a loopback host)" + shown("claims_hook_url", url))
            }
            guard let secret = try nonEmpty("claims_hook_secret") else {
                throw fail("claims_hook_secret", "is required with claims_hook_url: the webhook signing secret, whsec_ followed by base64")
            }
            guard let key = StandardWebhookSignature.key(secret) else {
                throw fail("claims_hook_secret", "must be whsec_ followed by the base64 of at least 24 random bytes")
            }
            var hook = ClaimsHookSettings(url: parsed, key: key)
            if let timeout = try duration("claims_hook_timeout", range: 0.1...10) { hook.timeout = timeout }
            if let mode = try nonEmpty("claims_hook_failure") {
                guard let parsed = SignInClaimsHook.FailureMode(rawValue: mode.lowercased()) else {
                    throw fail("claims_hook_failure", "must be refuse (the sign-in answers 503) or allow (sign in without the hook's claims)"
                        + shown("claims_hook_failure", mode))
                }
                hook.failure = parsed
            }
            config.claimsHook = hook
        } else if try nonEmpty("claims_hook_secret") != nil || nonEmpty("claims_hook_timeout") != nil || nonEmpty("claims_hook_failure") != nil {
            throw fail("claims_hook_url", "is required by the other claims_hook_ settings")
        }
        if let ttl = try duration("session_cookie_ttl", range: 60...(365 * 86_400)) { config.sessionCookieTTL = ttl }
        if let ttl = try duration("session_access_token_ttl", range: 30...86_400) { config.sessionAccessTokenTTL = ttl }
        if let mode = try nonEmpty("dpop_device_sign_in") {
            switch mode.lowercased() {
            case "optional": config.dpop.requiredForDeviceSignIn = false
            case "required": config.dpop.requiredForDeviceSignIn = true
            default: throw fail("dpop_device_sign_in", "must be optional or required" + shown("dpop_device_sign_in", mode))
            }
        }
        if let mode = try nonEmpty("dpop_nonce") {
            switch mode.lowercased() {
            case "when-needed": config.dpop.nonceAlways = false
            case "always": config.dpop.nonceAlways = true
            default: throw fail("dpop_nonce", "must be when-needed or always" + shown("dpop_nonce", mode))
            }
        }
        if let mode = try nonEmpty("session_cookie_samesite") {
            guard let parsed = SameSite(rawValue: mode.lowercased()) else {
                throw fail("session_cookie_samesite", "must be lax, strict or none" + shown("session_cookie_samesite", mode))
            }
            config.sessionCookieSameSite = parsed
        }
        if let name = try nonEmpty("session_cookie_name") {
            // RFC 6265 §4.1.1 token characters.
            guard name.utf8.count <= 64, name.utf8.allSatisfy({ (0x21...0x7e).contains($0) && !"()<>@,;:\\\"/[]?={}".utf8.contains($0) }) else {
                throw fail("session_cookie_name", "must be 1 to 64 cookie-name characters (letters, digits, and !#$%&'*+-.^_`|~)" + shown("session_cookie_name", name))
            }
            config.sessionCookieName = name
        }
        if let origins = try nonEmpty("allowed_origins") {
            config.allowedOrigins = try origins.split(separator: ",").map { entry in
                let origin = entry.trimmingCharacters(in: .whitespaces)
                guard let normalized = Self.normalizedOrigin(origin) else {
                    throw fail("allowed_origins", "\"\(origin.prefix(80))\" is not an origin such as https://app.example.com (scheme, host, optional port; no path)")
                }
                return normalized
            }
        }
        if let proxies = try nonEmpty("trusted_proxies") {
            config.trustedProxies = try proxies.split(separator: ",", omittingEmptySubsequences: false).map { entry in
                let text = entry.trimmingCharacters(in: .whitespaces)
                guard let network = IPNetwork(cidr: text) else {
                    throw fail("trusted_proxies", "\"\(text.prefix(80))\" is not an address or CIDR network such as 10.0.0.0/8 or 2001:db8::/32")
                }
                return network
            }
        }
        if let field = try nonEmpty("forwarded_header") {
            guard let value = ClientAddressResolver.ForwardingField(rawValue: field.lowercased()) else {
                throw fail("forwarded_header", "must be x-forwarded-for or forwarded (the field your load balancer writes)")
            }
            config.forwardedHeader = value
        }
        if let host = try nonEmpty("metrics_host") { config.metricsHost = host }
        if let port = try nonEmpty("metrics_port") {
            guard let number = Int(port), (0...65_535).contains(number) else {
                throw fail("metrics_port", "must be an integer from 0 to 65535" + shown("metrics_port", port))
            }
            config.metricsPort = number
        }
        if let metricsPort = config.metricsPort, metricsPort != 0, metricsPort == config.port, config.metricsHost == config.host {
            throw fail("metrics_port", "must differ from TEGATA_PORT: metrics are never served on the public listener")
        }
        if let text = try nonEmpty("audit_log") {
            switch text.lowercased() {
            case "stderr": config.auditLog = .standardError
            case "stdout": config.auditLog = .standardOutput
            case "off": config.auditLog = .off
            default:
                guard text.hasPrefix("/") else {
                    throw fail("audit_log", "must be stderr, stdout, off or an absolute file path" + shown("audit_log", text))
                }
                config.auditLog = .file(path: text)
            }
        }
        if let text = try nonEmpty("audit_table") {
            switch text.lowercased() {
            case "true", "1", "yes": config.auditTable = true
            case "false", "0", "no": config.auditTable = false
            default: throw fail("audit_table", "must be true or false" + shown("audit_table", text))
            }
        }
        if let retention = try duration("audit_retention", range: 3_600...(10 * 365 * 86_400)) { config.auditRetention = retention }
        if let text = try nonEmpty("rate_limit_enabled") {
            switch text.lowercased() {
            case "true", "1", "yes": config.rateLimits.enabled = true
            case "false", "0", "no": config.rateLimits.enabled = false
            default: throw fail("rate_limit_enabled", "must be true or false" + shown("rate_limit_enabled", text))
            }
        }
        for name in RateLimitName.allCases {
            guard let text = try nonEmpty(name.key) else { continue }
            guard let policy = RateLimitSettings.parse(text, name: name) else {
                throw fail(name.key, "must be a count and a window such as 60/10m (1 to 1000000 per 1s to 1d), or off" + shown(name.key, text))
            }
            config.rateLimits.overrides[name] = policy
        }
        let realtimeSecret = try nonEmpty("realtime_hmac_secret")
        if let secret = realtimeSecret, secret.utf8.count < 32 {
            throw fail("realtime_hmac_secret", "must be at least 32 characters (the same value as Centrifugo's client.token.hmac_secret_key)")
        }
        switch try nonEmpty("realtime_signing")?.lowercased() {
        case nil:
            config.realtimeSigning = realtimeSecret.map { .hmac(secret: $0) }
        case "hmac"?:
            guard let secret = realtimeSecret else {
                throw fail("realtime_signing", "hmac needs TEGATA_REALTIME_HMAC_SECRET")
            }
            config.realtimeSigning = .hmac(secret: secret)
        case "es256"?:
            config.realtimeSigning = .es256
        case let other?:
            throw fail("realtime_signing", "must be hmac or es256" + shown("realtime_signing", other))
        }
        if let ttl = try duration("realtime_token_ttl", range: 30...86_400) { config.realtimeTokenTTL = ttl }
        if let namespaces = try nonEmpty("realtime_namespaces") {
            config.realtimeNamespaces = try namespaces.split(separator: ",").map { entry in
                let name = entry.trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy({ (0x21...0x7e).contains($0) && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "#") }) else {
                    throw fail("realtime_namespaces", "\"\(name.prefix(80))\" is not a Centrifugo namespace name")
                }
                return name
            }
        }

        let defaultIssuer = "http://\(Self.urlHost(config.host)):\(config.port)"
        if let issuer = try nonEmpty("issuer") {
            guard let url = URL(string: issuer), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
                  url.host != nil, url.query == nil, url.fragment == nil, !issuer.hasSuffix("/")
            else {
                throw fail("issuer", "must be an http(s) URL without query, fragment or trailing slash" + shown("issuer", issuer))
            }
            config.issuer = issuer
        } else if !FetchPolicy.isLoopback(host: config.host) || masterKeyConfigured {
            // The default is a loopback http URL: behind a proxy it would put an internal URL in
            // every token and silently drop the cookie's Secure and __Host-. Production (listening
            // beyond loopback, or with a master key of its own) must say what its public URL is.
            throw fail(
                "issuer",
                "must be set to this server's public base URL (e.g. https://auth.example.com) when it listens on "
                    + "\(config.host) or has a master key configured; the loopback default is for local development only")
        } else {
            config.issuer = defaultIssuer
        }
        config.audience = try nonEmpty("audience") ?? config.issuer
        if config.sessionCookieSameSite == .none && !config.sessionCookieSecure {
            throw fail("session_cookie_samesite", "none needs a Secure cookie, which a plain-http loopback issuer cannot have")
        }
        if let name = config.sessionCookieName, !config.sessionCookieSecure, name.hasPrefix("__Host-") || name.hasPrefix("__Secure-") {
            throw fail("session_cookie_name", "a __Host- or __Secure- name needs a Secure cookie, which a plain-http loopback issuer cannot have")
        }
        self = config
    }

    /// `900`, `900s`, `15m`, `12h`, `30d` → seconds.
    static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var number = Substring(text)
        var factor = 1.0
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            factor = unit
        }
        guard !number.isEmpty, number.allSatisfy(\.isASCII), let value = Double(number), value.isFinite, value >= 0 else {
            return nil
        }
        return value * factor
    }

    static func parseDatabaseURL(_ url: String, fail: (String) -> ConfigurationError) throws -> DatabaseLocation {
        let prefix = "sqlite://"
        if url.lowercased().hasPrefix(prefix) {
            let path = String(url.dropFirst(prefix.count))
            guard !path.isEmpty, !path.contains("\0") else { throw fail("sqlite:// needs a file path, e.g. sqlite://./tegata-data/tegata.sqlite") }
            return .sqlite(path: path)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            do {
                return .postgres(try PostgresURL(parsing: url))
            } catch {
                throw fail("the PostgreSQL URL \(error.reason)")
            }
        }
        throw fail("must be sqlite://<path> or postgres://user:password@host:port/database (got a URL with another scheme)")
    }

    /// `{"price_… or prod_…": ["name", …] or "name"}` as JSON or YAML; names as ``Entitlement/isValidName(_:)``.
    static func parseStripeEntitlements(_ text: String, fail: (String) -> ConfigurationError) throws -> [String: [String]] {
        let example = "e.g. {\"price_1PmonthlyPro\": [\"pro\"], \"prod_Membership\": \"membership\"}"
        guard let parsed = try? Yams.load(yaml: text), let mapping = parsed as? [String: Any] else {
            throw fail("must be a mapping of Stripe price or product ids to entitlement names, as JSON or YAML, " + example)
        }
        var result: [String: [String]] = [:]
        for id in mapping.keys.sorted() {
            let names: [String]
            switch mapping[id] {
            case let name as String: names = [name]
            case let list as [Any] where list.allSatisfy({ $0 is String }): names = list.compactMap { $0 as? String }
            default: throw fail("\(id): must be an entitlement name or a list of names")
            }
            guard !id.isEmpty, !names.isEmpty else { throw fail("\(id): must name at least one entitlement") }
            if let bad = names.first(where: { !Entitlement.isValidName($0) }) {
                throw fail("\(id): \"\(bad.prefix(80))\" is not an entitlement name (1 to 64 of A-Z a-z 0-9 . _ : -)")
            }
            result[id] = names
        }
        return result
    }

    /// The schemes of app WebViews whose pages have an origin of their own: Capacitor on iOS
    /// (`capacitor://localhost`) and Ionic's WebView (`ionic://localhost`). Capacitor on Android
    /// serves `https://localhost` (or `http://`), an ordinary origin.
    static let appWebViewSchemes: Set<String> = ["capacitor", "ionic"]

    /// `scheme://host[:port]` in lowercase without a default port, or nil if `text` is not an origin
    /// (http, https, or an app WebView's scheme).
    static func normalizedOrigin(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "https" || scheme == "http" || appWebViewSchemes.contains(scheme),
              let host = url.host?.lowercased(), !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil,
              url.fragment == nil, url.user == nil, !text.hasSuffix("/")
        else { return nil }
        let port = url.port.flatMap { ($0 == 443 && scheme == "https") || ($0 == 80 && scheme == "http") ? nil : $0 }
        return "\(scheme)://\(urlHost(host))" + (port.map { ":\($0)" } ?? "")
    }

    /// `id:secret,id:secret`: ids of `[A-Za-z0-9._-]`, secrets of at least 16 characters.
    static func parseClients(_ text: String, fail: (String) -> ConfigurationError) throws -> [ClientCredential] {
        var clients: [ClientCredential] = []
        for (index, entry) in text.split(separator: ",").enumerated() {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw fail("entry \(index + 1) must be id:secret")
            }
            let id = String(trimmed[..<colon])
            let secret = String(trimmed[trimmed.index(after: colon)...])
            guard !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                throw fail("entry \(index + 1): the client id must be letters, digits, '.', '_' or '-'")
            }
            guard secret.count >= 16 else {
                throw fail("entry \(index + 1) (\(id)): the secret must be at least 16 characters")
            }
            guard !clients.contains(where: { $0.id == id }) else { throw fail("client id \(id) appears twice") }
            clients.append(ClientCredential(id: id, secret: secret))
        }
        return clients
    }

    static func decodeKey(_ text: String) -> Data? {
        if let data = Data(base64Encoded: text) { return data }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    static func urlHost(_ host: String) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }
}
