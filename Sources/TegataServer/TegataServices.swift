import Foundation
import Logging
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
    /// Signing keys.
    public let keyRing: KeyRing
    /// Token contents and lifetimes.
    public let policy: TokenPolicy
    /// The clock.
    public let clock: any TegataClock
    /// Resource-server clients (introspection, revocation feed).
    public let resourceServers: ResourceServerClients
    /// Access tokens already verified (shared by every request).
    public let verifiedTokens: VerifiedTokenCache
    /// The server's logger.
    public let logger: Logger

    /// Opens and migrates the database, loads or generates the keys.
    public static func make(configuration: TegataConfiguration, clock: any TegataClock, logger: Logger) async throws -> TegataServices {
        let store: SQLiteStore
        switch configuration.database {
        case .sqlite(let path):
            store = try await SQLiteStore.open(path: path, synchronous: configuration.sqliteSynchronous, logger: logger)
        }
        do {
            let secrets = ServerSecrets(masterKey: try KeyBootstrap.masterKey(configuration.masterKey, logger: logger))
            let keyRing = try await KeyBootstrap.keyRing(
                configuration: configuration, secrets: secrets, store: store, clock: clock, logger: logger)
            let policy = TokenPolicy(
                issuer: configuration.issuer, audience: configuration.audience, clientID: configuration.clientID,
                accessTokenLifetime: configuration.accessTokenTTL, leeway: configuration.clockLeeway,
                sessions: SessionPolicy(idleLifetime: configuration.refreshIdleTTL,
                                        absoluteLifetime: configuration.refreshAbsoluteTTL,
                                        reuseGrace: configuration.refreshReuseGrace))
            let pruner = SessionPruner(
                store: store, clock: clock, interval: configuration.pruneInterval,
                idleLifetime: configuration.refreshIdleTTL, logger: logger)
            return TegataServices(
                configuration: configuration, store: store, lifecycle: [store, pruner], secrets: secrets, keyRing: keyRing,
                policy: policy, clock: clock,
                resourceServers: ResourceServerClients(configured: configuration.introspectionClients.map { ($0.id, $0.secret) }),
                verifiedTokens: VerifiedTokenCache(capacity: configuration.verifiedTokenCacheSize),
                logger: logger)
        } catch {
            await store.close()
            throw error
        }
    }

    /// Issues token responses.
    public var tokenIssuer: TokenIssuer { TokenIssuer(keyRing: keyRing, secrets: secrets, policy: policy) }

    /// The refresh-token grant.
    public var refreshGrant: RefreshGrant { RefreshGrant(store: store, issuer: tokenIssuer, clock: clock) }

    /// Logout, session list, account deletion.
    public var sessionService: SessionService { SessionService(store: store, policy: policy, clock: clock) }

    /// RFC 7009 revocation.
    public var tokenRevocation: TokenRevocation {
        TokenRevocation(store: store, secrets: secrets, keyRing: keyRing, policy: policy, clock: clock)
    }

    /// RFC 7662 introspection.
    public var introspection: Introspection {
        Introspection(authenticator: authenticator, store: store, secrets: secrets, policy: policy, clock: clock)
    }

    /// Authenticates access tokens at Tegata's own endpoints.
    public var authenticator: AccessTokenAuthenticator {
        AccessTokenAuthenticator(keyRing: keyRing, policy: policy, store: store, clock: clock, cache: verifiedTokens)
    }
}
