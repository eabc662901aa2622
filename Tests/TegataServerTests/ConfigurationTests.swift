import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import TegataCore
import TegataServer
import TegataStoreSQLite
import TegataStorePostgres
import TegataTokens
import TegataWire
import Testing

@Suite struct ConfigurationTests {
    func load(_ env: [String: String], file: String? = nil) throws -> TegataConfiguration {
        try TegataConfiguration.load(file: file, environment: env)
    }

    func expectError(_ env: [String: String], key: String, file: String? = nil, notContaining secret: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try load(env, file: file)
            Issue.record("accepted a bad configuration", sourceLocation: sourceLocation)
        } catch let error as ConfigurationError {
            #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(key), sourceLocation: sourceLocation)
            if let secret { #expect(!error.description.contains(secret), sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Listening beyond loopback, or with a master key of its own, is production: the loopback
    /// default issuer would put an internal URL in every token and drop the cookie's Secure flag
    /// behind a proxy, so start-up stops and names TEGATA_ISSUER instead.
    @Test func productionStartUpNeedsAnIssuer() throws {
        let key = Data(repeating: 1, count: 32).base64EncodedString()
        expectError(["TEGATA_HOST": "0.0.0.0"], key: "TEGATA_ISSUER")
        expectError(["TEGATA_HOST": "10.1.2.3"], key: "TEGATA_ISSUER")
        expectError(["TEGATA_MASTER_KEY": key], key: "TEGATA_ISSUER", notContaining: key)
        expectError(["TEGATA_MASTER_KEY_FILE": "/run/secrets/tegata-master-key"], key: "TEGATA_ISSUER")
        let production = try load(["TEGATA_HOST": "0.0.0.0", "TEGATA_MASTER_KEY": key, "TEGATA_ISSUER": "https://auth.example.com"])
        #expect(production.issuer == "https://auth.example.com" && production.sessionCookieSecure)
        // Local development keeps its default.
        for host in ["127.0.0.1", "localhost", "::1"] {
            #expect(try load(["TEGATA_HOST": host]).issuer.hasPrefix("http://"))
        }
    }

    @Test func aMasterKeyFileOthersCanReadStopsStartUp() async throws {
        let harness = Harness()
        try FileManager.default.createDirectory(atPath: harness.directory, withIntermediateDirectories: true)
        let path = (harness.directory as NSString).appendingPathComponent("master.key")
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        FileManager.default.createFile(atPath: path, contents: Data(key.utf8), attributes: [.posixPermissions: 0o644])
        do {
            _ = try await harness.services()
            Issue.record("started with a group- and world-readable master key file")
        } catch let error as ConfigurationError {
            #expect(error.key == "TEGATA_MASTER_KEY_FILE")
            #expect(error.description.contains("chmod 600") && error.description.contains("644"))
            #expect(!error.description.contains(key))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        await #expect(throws: ConfigurationError.self) { _ = try await harness.services() }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let services = try await harness.services()
        await services.store.close()
    }

    @Test func defaultsNeedNoConfiguration() throws {
        let config = try load([:])
        #expect(config.host == "127.0.0.1" && config.port == 8080)
        #expect(config.issuer == "http://127.0.0.1:8080" && config.audience == config.issuer)
        #expect(config.database == .sqlite(path: "./tegata-data/tegata.sqlite"))
        guard case .developmentFile(let path) = config.masterKey else { Issue.record("expected a key file"); return }
        #expect(path == "./tegata-data/master.key")
        #expect(config.accessTokenTTL == 900 && config.refreshIdleTTL == 30 * 86_400 && config.refreshAbsoluteTTL == 365 * 86_400)
        #expect(config.clockLeeway == 30 && config.maxBodySize == 65_536 && config.logLevel == .info && config.logFormat == .text)
        #expect(config.sqliteMemory == SQLiteMemory(cacheMiB: 64, mmapMiB: 2_047), "the sizes the scale benchmark chose")
    }

    @Test func environmentVariablesSetEveryKey() throws {
        let masterKey = Data(repeating: 7, count: 32).base64EncodedString()
        let config = try load([
            "TEGATA_HOST": "0.0.0.0", "TEGATA_PORT": "9000", "TEGATA_ISSUER": "https://auth.example.com",
            "TEGATA_AUDIENCE": "https://api.example.com", "TEGATA_DATABASE_URL": "sqlite:///var/lib/tegata/db.sqlite",
            "TEGATA_MASTER_KEY": masterKey, "TEGATA_SIGNING_KEY_FILE": "/etc/tegata/key.pem",
            "TEGATA_ACCESS_TOKEN_TTL": "10m", "TEGATA_REFRESH_IDLE_TTL": "7d", "TEGATA_REFRESH_ABSOLUTE_TTL": "90d",
            "TEGATA_CLOCK_LEEWAY": "5s", "TEGATA_MAX_BODY_SIZE": "4096", "TEGATA_JWKS_MAX_AGE": "1h",
            "TEGATA_LOG_LEVEL": "debug", "TEGATA_LOG_FORMAT": "json", "TEGATA_CLIENT_ID": "my-app",
            "TEGATA_REFRESH_REUSE_GRACE": "0", "TEGATA_PRUNE_INTERVAL": "1m", "TEGATA_SQLITE_SYNCHRONOUS": "normal",
            "TEGATA_VERIFIED_TOKEN_CACHE_SIZE": "0", "TEGATA_SQLITE_CACHE_MIB": "128", "TEGATA_SQLITE_MMAP_MIB": "0",
            "TEGATA_INTROSPECTION_CLIENTS": "orders-api:0123456789abcdef, billing.v2:fedcba9876543210",
        ])
        #expect(config.refreshReuseGrace == 0 && config.pruneInterval == 60 && config.sqliteSynchronous == .normal)
        #expect(config.verifiedTokenCacheSize == 0)
        #expect(config.sqliteMemory == SQLiteMemory(cacheMiB: 128, mmapMiB: 0))
        #expect(config.introspectionClients == [.init(id: "orders-api", secret: "0123456789abcdef"), .init(id: "billing.v2", secret: "fedcba9876543210")])
        #expect(!"\(config.introspectionClients)".contains("0123456789abcdef"), "secrets are never printed")
        #expect(config.host == "0.0.0.0" && config.port == 9000)
        #expect(config.issuer == "https://auth.example.com" && config.audience == "https://api.example.com")
        #expect(config.database == .sqlite(path: "/var/lib/tegata/db.sqlite"))
        guard case .inline(let key) = config.masterKey else { Issue.record("expected an inline key"); return }
        #expect(key == Data(repeating: 7, count: 32))
        #expect(config.signingKeyFile == "/etc/tegata/key.pem")
        #expect(config.accessTokenTTL == 600 && config.refreshIdleTTL == 7 * 86_400 && config.refreshAbsoluteTTL == 90 * 86_400)
        #expect(config.clockLeeway == 5 && config.maxBodySize == 4096 && config.jwksMaxAge == 3600)
        #expect(config.logLevel == .debug && config.logFormat == .json && config.clientID == "my-app")
    }

    @Test func theIssuerDefaultsToTheListeningAddress() throws {
        #expect(try load(["TEGATA_PORT": "9999"]).issuer == "http://127.0.0.1:9999")
        #expect(try load(["TEGATA_HOST": "::1", "TEGATA_PORT": "1"]).issuer == "http://[::1]:1")
    }

    @Test func yamlAndJSONFilesAreReadAndTheEnvironmentWins() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let yaml = directory.appendingPathComponent("tegata.yaml")
        try "port: 7000\nissuer: https://yaml.example\naccess_token_ttl: 5m\nlog_format: json\n".write(to: yaml, atomically: true, encoding: .utf8)
        let fromYAML = try load([:], file: yaml.path)
        #expect(fromYAML.port == 7000 && fromYAML.issuer == "https://yaml.example" && fromYAML.accessTokenTTL == 300 && fromYAML.logFormat == .json)
        #expect(try load(["TEGATA_PORT": "7001"], file: yaml.path).port == 7001)
        let jsonFile = directory.appendingPathComponent("tegata.json")
        try #"{"port": 7002, "host": "127.0.0.2", "max_body_size": 2048}"#.write(to: jsonFile, atomically: true, encoding: .utf8)
        let fromJSON = try load([:], file: jsonFile.path)
        #expect(fromJSON.port == 7002 && fromJSON.host == "127.0.0.2" && fromJSON.maxBodySize == 2048)

        let typo = directory.appendingPathComponent("typo.yaml")
        try "prot: 7000\n".write(to: typo, atomically: true, encoding: .utf8)
        expectError([:], key: "--config", file: typo.path)
        let list = directory.appendingPathComponent("list.yaml")
        try "- a\n- b\n".write(to: list, atomically: true, encoding: .utf8)
        expectError([:], key: "--config", file: list.path)
        expectError([:], key: "--config", file: directory.appendingPathComponent("missing.yaml").path)
    }

    @Test func aPostgresURLIsReadWithItsTLSModeAndPoolAndItsPasswordIsNeverShown() throws {
        let key = Data(repeating: 1, count: 32).base64EncodedString()
        let base = ["TEGATA_MASTER_KEY": key, "TEGATA_ISSUER": "https://auth.example.com"]
        let config = try load(base.merging([
            "TEGATA_DATABASE_URL": "postgresql://tegata:s%40cret-pass@db.internal:6543/auth?sslmode=verify-full",
            "TEGATA_DATABASE_POOL_SIZE": "25",
            "TEGATA_DATABASE_LOCK_TIMEOUT": "2s",
        ]) { $1 })
        guard case .postgres(let url) = config.database else { Issue.record("not a PostgreSQL location"); return }
        #expect(url.host == "db.internal" && url.port == 6543 && url.user == "tegata" && url.password == "s@cret-pass")
        #expect(url.database == "auth" && url.tls == .verifyFull && config.databasePoolSize == 25 && config.databaseLockTimeout == 2)
        #expect(try load(base).databaseLockTimeout == 5)
        #expect(StoreFactory.describe(config.database) == "postgres tegata@db.internal:6543/auth")
        // Defaults: port 5432, the user's name as the database, TLS preferred (as libpq).
        let plain = try PostgresURL(parsing: "postgres://app:pw@10.0.0.5")
        #expect(plain.port == 5432 && plain.database == "app" && plain.tls == .prefer)
        for bad in ["postgres://tegata:s3cret-pass@db:5432/auth?sslmode=allow", "postgres://tegata:s3cret-pass@db:99999/auth",
                    "postgres://tegata:s3cret-pass@db/auth?application_name=x", "postgres://:s3cret-pass@db/auth",
                    "postgres://tegata:s3cret-pass@/auth", "postgres://tegata:s3cret-pass@db/a/b"] {
            expectError(base.merging(["TEGATA_DATABASE_URL": bad]) { $1 }, key: "TEGATA_DATABASE_URL", notContaining: "s3cret-pass")
        }
        // Replicas must share one master key: PostgreSQL without a configured one is refused.
        expectError(["TEGATA_DATABASE_URL": "postgres://tegata:s3cret-pass@db/auth", "TEGATA_ISSUER": "https://auth.example.com"],
                    key: "TEGATA_DATABASE_URL", notContaining: "s3cret-pass")
        expectError(base.merging(["TEGATA_DATABASE_URL": "postgres://t:p@db/auth", "TEGATA_DATABASE_POOL_SIZE": "0"]) { $1 },
                    key: "TEGATA_DATABASE_POOL_SIZE")
        for bad in ["0", "61s", "soon"] {
            expectError(base.merging(["TEGATA_DATABASE_LOCK_TIMEOUT": bad]) { $1 }, key: "TEGATA_DATABASE_LOCK_TIMEOUT")
        }
    }

    @Test func badValuesNameTheirKey() {
        expectError(["TEGATA_PORT": "eighty"], key: "TEGATA_PORT")
        expectError(["TEGATA_PORT": "70000"], key: "TEGATA_PORT")
        expectError(["TEGATA_PORT": ""], key: "TEGATA_PORT")
        expectError(["TEGATA_ACCESS_TOKEN_TTL": "soon"], key: "TEGATA_ACCESS_TOKEN_TTL")
        expectError(["TEGATA_ACCESS_TOKEN_TTL": "0"], key: "TEGATA_ACCESS_TOKEN_TTL")
        expectError(["TEGATA_ACCESS_TOKEN_TTL": "-5m"], key: "TEGATA_ACCESS_TOKEN_TTL")
        expectError(["TEGATA_REFRESH_IDLE_TTL": "400d"], key: "TEGATA_REFRESH_IDLE_TTL")
        expectError(["TEGATA_LOG_LEVEL": "loud"], key: "TEGATA_LOG_LEVEL")
        expectError(["TEGATA_LOG_FORMAT": "xml"], key: "TEGATA_LOG_FORMAT")
        expectError(["TEGATA_DATABASE_URL": "mysql://x"], key: "TEGATA_DATABASE_URL")
        expectError(["TEGATA_DATABASE_URL": "postgres://localhost/tegata"], key: "TEGATA_DATABASE_URL")
        expectError(["TEGATA_ISSUER": "auth.example.com"], key: "TEGATA_ISSUER")
        expectError(["TEGATA_ISSUER": "https://auth.example.com/"], key: "TEGATA_ISSUER")
        expectError(["TEGATA_MAX_BODY_SIZE": "10"], key: "TEGATA_MAX_BODY_SIZE")
        expectError(["TEGATA_CLOCK_LEEWAY": "1h"], key: "TEGATA_CLOCK_LEEWAY")
        expectError(["TEGATA_REFRESH_REUSE_GRACE": "1h"], key: "TEGATA_REFRESH_REUSE_GRACE")
        expectError(["TEGATA_SQLITE_SYNCHRONOUS": "off"], key: "TEGATA_SQLITE_SYNCHRONOUS")
        expectError(["TEGATA_SQLITE_CACHE_MIB": "0"], key: "TEGATA_SQLITE_CACHE_MIB")
        expectError(["TEGATA_SQLITE_CACHE_MIB": "64MB"], key: "TEGATA_SQLITE_CACHE_MIB")
        expectError(["TEGATA_SQLITE_MMAP_MIB": "4096"], key: "TEGATA_SQLITE_MMAP_MIB")
        expectError(["TEGATA_SQLITE_MMAP_MIB": "-1"], key: "TEGATA_SQLITE_MMAP_MIB")
        expectError(["TEGATA_KEY_RELOAD_INTERVAL": "0s"], key: "TEGATA_KEY_RELOAD_INTERVAL")
        // Not shorter than the JWKS cache lifetime (5 min by default): a planned rotation could sign
        // at one replica before another publishes the key.
        expectError(["TEGATA_KEY_RELOAD_INTERVAL": "5m"], key: "TEGATA_KEY_RELOAD_INTERVAL")
        expectError(["TEGATA_VERIFIED_TOKEN_CACHE_SIZE": "-1"], key: "TEGATA_VERIFIED_TOKEN_CACHE_SIZE")
        expectError(["TEGATA_INTROSPECTION_CLIENTS": "no-colon"], key: "TEGATA_INTROSPECTION_CLIENTS")
        expectError(["TEGATA_INTROSPECTION_CLIENTS": "api:short"], key: "TEGATA_INTROSPECTION_CLIENTS", notContaining: "short")
        expectError(["TEGATA_INTROSPECTION_CLIENTS": "a b:0123456789abcdef"], key: "TEGATA_INTROSPECTION_CLIENTS", notContaining: "0123456789abcdef")
        expectError(["TEGATA_INTROSPECTION_CLIENTS": "x:0123456789abcdef,x:0123456789abcdeg"], key: "TEGATA_INTROSPECTION_CLIENTS")
    }

    @Test func aBadMasterKeyIsNamedButNeverEchoed() {
        let short = Data(repeating: 1, count: 16).base64EncodedString()
        expectError(["TEGATA_MASTER_KEY": short], key: "TEGATA_MASTER_KEY", notContaining: short)
        expectError(["TEGATA_MASTER_KEY": "not base64 at all!!"], key: "TEGATA_MASTER_KEY", notContaining: "not base64 at all!!")
    }

    @Test func paymentWebhookSettings() throws {
        let config = try load([
            "TEGATA_STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
            "TEGATA_STRIPE_ENTITLEMENTS": #"{"price_pro_monthly": ["pro"], "prod_club": "membership"}"#,
            "TEGATA_REVENUECAT_WEBHOOK_AUTH": "Bearer rc-0123456789abcdef",
        ])
        #expect(config.stripeWebhookSecret == "whsec_0123456789abcdef")
        #expect(config.stripeEntitlements == ["price_pro_monthly": ["pro"], "prod_club": ["membership"]])
        #expect(config.revenueCatWebhookAuth == "Bearer rc-0123456789abcdef")
        let yaml = try load(["TEGATA_STRIPE_ENTITLEMENTS": "price_a: [pro, 'vip:gold']\nprod_b: membership\n"])
        #expect(yaml.stripeEntitlements == ["price_a": ["pro", "vip:gold"], "prod_b": ["membership"]])
        #expect(try load([:]).stripeWebhookSecret == nil && load([:]).revenueCatWebhookAuth == nil)
    }

    @Test func badPaymentWebhookSettingsAreNamedAndSecretsNeverEchoed() {
        expectError(["TEGATA_STRIPE_WEBHOOK_SECRET": "whsec_short"], key: "TEGATA_STRIPE_WEBHOOK_SECRET", notContaining: "whsec_short")
        expectError(["TEGATA_REVENUECAT_WEBHOOK_AUTH": "Bearer tiny"], key: "TEGATA_REVENUECAT_WEBHOOK_AUTH", notContaining: "tiny")
        expectError(["TEGATA_REVENUECAT_WEBHOOK_AUTH": ""], key: "TEGATA_REVENUECAT_WEBHOOK_AUTH")
        expectError(["TEGATA_STRIPE_ENTITLEMENTS": "[pro]"], key: "TEGATA_STRIPE_ENTITLEMENTS")
        expectError(["TEGATA_STRIPE_ENTITLEMENTS": #"{"price_a": []}"#], key: "TEGATA_STRIPE_ENTITLEMENTS")
        expectError(["TEGATA_STRIPE_ENTITLEMENTS": #"{"price_a": ["has space"]}"#], key: "TEGATA_STRIPE_ENTITLEMENTS")
        expectError(["TEGATA_STRIPE_ENTITLEMENTS": #"{"price_a": {"name": "pro"}}"#], key: "TEGATA_STRIPE_ENTITLEMENTS")
    }

    @Test func webAndRealtimeSettings() throws {
        let config = try load([
            "TEGATA_ISSUER": "https://auth.example.com", "TEGATA_SESSION_COOKIE_NAME": "__Host-sid", "TEGATA_SESSION_COOKIE_SAMESITE": "Strict",
            "TEGATA_SESSION_COOKIE_TTL": "1d", "TEGATA_ALLOWED_ORIGINS": "https://App.Example.com, https://admin.example.com:8443, http://localhost:3000",
            "TEGATA_REALTIME_HMAC_SECRET": "0123456789abcdef0123456789abcdef", "TEGATA_REALTIME_TOKEN_TTL": "5m",
            "TEGATA_REALTIME_NAMESPACES": "chat, scores", "TEGATA_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32",
            "TEGATA_FORWARDED_HEADER": "Forwarded",
        ])
        #expect(config.forwardedHeader == .forwarded)
        #expect(try load([:]).forwardedHeader == .xForwardedFor)
        #expect(config.trustedProxies.map(\.description) == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"])
        #expect(try load([:]).trustedProxies.isEmpty, "no proxy is trusted by default")
        #expect(config.effectiveSessionCookieName == "__Host-sid" && config.sessionCookieSameSite == .strict && config.sessionCookieTTL == 86_400)
        #expect(try load([:]).sessionAccessTokenTTL == 300, "the page token lives 5 minutes by default")
        #expect(try load(["TEGATA_SESSION_ACCESS_TOKEN_TTL": "90s"]).sessionAccessTokenTTL == 90)
        for bad in ["10s", "2d", "soon"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try load(["TEGATA_SESSION_ACCESS_TOKEN_TTL": bad]) }
        }
        #expect(config.sessionCookieSecure)
        #expect(config.allowedOrigins == ["https://app.example.com", "https://admin.example.com:8443", "http://localhost:3000"])
        // App WebViews: Capacitor on iOS and Ionic have schemes of their own.
        let webViews = try load(["TEGATA_ALLOWED_ORIGINS": "capacitor://localhost, IONIC://LocalHost, https://localhost"]).allowedOrigins
        #expect(webViews == ["capacitor://localhost", "ionic://localhost", "https://localhost"])
        for bad in ["capacitor://", "capacitor://localhost/index.html", "file:///index.html", "javascript://localhost", "null"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try load(["TEGATA_ALLOWED_ORIGINS": bad]) }
        }
        #expect(config.realtimeSigning == .hmac(secret: "0123456789abcdef0123456789abcdef") && config.realtimeTokenTTL == 300)
        #expect(config.realtimeNamespaces == ["chat", "scores"])
        #expect(!"\(config.realtimeSigning!)".contains("0123456789abcdef"))
        #expect(try load(["TEGATA_REALTIME_SIGNING": "es256"]).realtimeSigning == .es256)
        let local = try load([:])
        #expect(!local.sessionCookieSecure && local.effectiveSessionCookieName == "tegata_session" && local.realtimeSigning == nil)
        #expect(try load(["TEGATA_ISSUER": "http://auth.internal"]).sessionCookieSecure, "plain http off loopback stays Secure")
        #expect(!(try load(["TEGATA_ISSUER": "http://localhost:8080"]).sessionCookieSecure))
        // A host that only starts like a loopback address is not one: its cookie stays Secure.
        #expect(try load(["TEGATA_ISSUER": "http://127.0.0.1.example.com"]).sessionCookieSecure)
    }

    @Test func rateLimitSettings() throws {
        let defaults = try load([:]).rateLimits
        #expect(defaults.enabled)
        #expect(RateLimitName.allCases.allSatisfy { defaults.policy($0) == $0.defaultPolicy }, "every limit on at its default")
        #expect(defaults.policy(.registrations) == RateLimitPolicy(name: "registrations", limit: 60, period: 600))
        let set = try load([
            "TEGATA_RATE_LIMIT_REGISTRATIONS": "10/1h", "TEGATA_RATE_LIMIT_FAILED_SIGN_INS": "OFF",
            "TEGATA_RATE_LIMIT_SESSION_REFRESHES": " 5 / 30s ",
        ]).rateLimits
        #expect(set.policy(.registrations) == RateLimitPolicy(name: "registrations", limit: 10, period: 3_600))
        #expect(set.policy(.failedSignIns) == nil)
        #expect(set.policy(.sessionRefreshes) == RateLimitPolicy(name: "session-refreshes", limit: 5, period: 30))
        #expect(set.policy(.webhooks) == RateLimitName.webhooks.defaultPolicy)
        let off = try load(["TEGATA_RATE_LIMIT_ENABLED": "false", "TEGATA_RATE_LIMIT_REGISTRATIONS": "10/1h"]).rateLimits
        #expect(RateLimitName.allCases.allSatisfy { off.policy($0) == nil }, "false turns every limit off")
        for bad in ["10", "0/1m", "-1/1m", "10/0s", "10/2d", "ten/1m", "10/1m/2", "1000001/1m"] {
            expectError(["TEGATA_RATE_LIMIT_EXCHANGES": bad], key: "TEGATA_RATE_LIMIT_EXCHANGES")
        }
        expectError(["TEGATA_RATE_LIMIT_ENABLED": "sometimes"], key: "TEGATA_RATE_LIMIT_ENABLED")
        #expect(TegataConfiguration.keys.contains("rate_limit_exchange_subjects"))
    }

    @Test func auditSettings() throws {
        let defaults = try load([:])
        #expect(defaults.auditLog == .standardError && !defaults.auditTable && defaults.auditRetention == 90 * 86_400)
        let set = try load(["TEGATA_AUDIT_LOG": "/var/log/tegata/audit.jsonl", "TEGATA_AUDIT_TABLE": "true", "TEGATA_AUDIT_RETENTION": "30d"])
        #expect(set.auditLog == .file(path: "/var/log/tegata/audit.jsonl") && set.auditTable && set.auditRetention == 30 * 86_400)
        #expect(try load(["TEGATA_AUDIT_LOG": "STDOUT"]).auditLog == .standardOutput)
        #expect(try load(["TEGATA_AUDIT_LOG": "off"]).auditLog == .off)
        for bad in ["audit.jsonl", "syslog", "./audit"] { expectError(["TEGATA_AUDIT_LOG": bad], key: "TEGATA_AUDIT_LOG") }
        expectError(["TEGATA_AUDIT_TABLE": "maybe"], key: "TEGATA_AUDIT_TABLE")
        for bad in ["10m", "11y", "forever"] { expectError(["TEGATA_AUDIT_RETENTION": bad], key: "TEGATA_AUDIT_RETENTION") }
    }

    @Test func dpopIsOptionalWithNoncesWhenNeededUnlessConfigured() throws {
        let defaults = try load([:])
        #expect(!defaults.dpop.requiredForDeviceSignIn && !defaults.dpop.nonceAlways && defaults.dpop.leeway == 30)
        let set = try load(["TEGATA_DPOP_DEVICE_SIGN_IN": "Required", "TEGATA_DPOP_NONCE": "always", "TEGATA_CLOCK_LEEWAY": "10s"])
        #expect(set.dpop.requiredForDeviceSignIn && set.dpop.nonceAlways && set.dpop.leeway == 10)
        #expect(try !load(["TEGATA_DPOP_DEVICE_SIGN_IN": "optional", "TEGATA_DPOP_NONCE": "when-needed"]).dpop.nonceAlways)
        expectError(["TEGATA_DPOP_DEVICE_SIGN_IN": "yes"], key: "TEGATA_DPOP_DEVICE_SIGN_IN")
        expectError(["TEGATA_DPOP_NONCE": "sometimes"], key: "TEGATA_DPOP_NONCE")
    }

    @Test func badWebAndRealtimeSettingsAreNamed() {
        expectError(["TEGATA_SESSION_COOKIE_SAMESITE": "sometimes"], key: "TEGATA_SESSION_COOKIE_SAMESITE")
        expectError(["TEGATA_SESSION_COOKIE_SAMESITE": "none"], key: "TEGATA_SESSION_COOKIE_SAMESITE")
        expectError(["TEGATA_SESSION_COOKIE_NAME": "__Host-sid"], key: "TEGATA_SESSION_COOKIE_NAME")
        expectError(["TEGATA_SESSION_COOKIE_NAME": "a;b"], key: "TEGATA_SESSION_COOKIE_NAME")
        expectError(["TEGATA_SESSION_COOKIE_TTL": "10s"], key: "TEGATA_SESSION_COOKIE_TTL")
        for origin in ["app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://x.example", "*"] {
            expectError(["TEGATA_ALLOWED_ORIGINS": origin], key: "TEGATA_ALLOWED_ORIGINS")
        }
        for proxies in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8,", "*"] {
            expectError(["TEGATA_TRUSTED_PROXIES": proxies], key: "TEGATA_TRUSTED_PROXIES")
        }
        expectError(["TEGATA_FORWARDED_HEADER": "x-real-ip"], key: "TEGATA_FORWARDED_HEADER")
        expectError(["TEGATA_REALTIME_HMAC_SECRET": "short-secret"], key: "TEGATA_REALTIME_HMAC_SECRET", notContaining: "short-secret")
        expectError(["TEGATA_REALTIME_SIGNING": "hmac"], key: "TEGATA_REALTIME_SIGNING")
        expectError(["TEGATA_REALTIME_SIGNING": "rs256"], key: "TEGATA_REALTIME_SIGNING")
        expectError(["TEGATA_REALTIME_NAMESPACES": "chat:room"], key: "TEGATA_REALTIME_NAMESPACES")
    }

    @Test func legacyDeviceClaimsAreOffByDefaultAndOpenOnlyUntilATimeWithinAYear() throws {
        #expect(try load([:]).legacyDeviceClaimsUntil == nil)
        let soon = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 30 * 86_400).rounded())
        let text = soon.formatted(Date.ISO8601FormatStyle())
        #expect(try load(["TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL": text]).legacyDeviceClaimsUntil == soon)
        #expect(try load(["TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL": "2020-01-01T00:00:00Z"]).legacyDeviceClaimsUntil != nil, "past: closed, not an error")
        expectError(["TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL": "next week"], key: "TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL")
        let far = Date().addingTimeInterval(400 * 86_400).formatted(Date.ISO8601FormatStyle())
        expectError(["TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL": far], key: "TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL")
        #expect(try load(["TEGATA_RATE_LIMIT_DEVICE_CLAIMS": "5/1h"]).rateLimits.policy(.deviceClaims)?.limit == 5)
        #expect(try load([:]).rateLimits.policy(.deviceClaims) == RateLimitPolicy(name: "device-claims", limit: 60, period: 600))
    }

    @Test func theAdminKeyAndKeyRetention() throws {
        let key = "0123456789abcdef0123456789abcdef+/="
        #expect(try load(["TEGATA_ADMIN_API_KEY": key]).adminAPIKey == key)
        #expect(try load([:]).adminAPIKey == nil)
        expectError(["TEGATA_ADMIN_API_KEY": "short-admin-key"], key: "TEGATA_ADMIN_API_KEY", notContaining: "short-admin-key")
        expectError(["TEGATA_ADMIN_API_KEY": "0123456789abcdef 0123456789abcdef"], key: "TEGATA_ADMIN_API_KEY", notContaining: "0123456789abcdef")
        // Retention covers the longest token the key signs, plus leeway.
        #expect(try load(["TEGATA_ACCESS_TOKEN_TTL": "10m", "TEGATA_CLOCK_LEEWAY": "20"]).signingKeyRetention == 620)
        let realtime = try load(["TEGATA_REALTIME_SIGNING": "es256", "TEGATA_REALTIME_TOKEN_TTL": "1h", "TEGATA_CLOCK_LEEWAY": "0"])
        #expect(realtime.signingKeyRetention == 3_600)
    }
}
