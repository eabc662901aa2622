import Logging
import ServiceLifecycle
import TegataCore
import TegataStoreSQLite
import TegataStorePostgres

/// The one place a store is made from configuration: the server (`TegataServices`), `tegata
/// migrate` and the storage contract tests all open their store here, from `TEGATA_DATABASE_URL`.
public enum StoreFactory {
    /// Opens the store `configuration.database` names and applies its pending migrations through
    /// the store's own ``StoreLifecycle/migrate()``. The store is also the service that closes it
    /// at shutdown.
    /// `observer` hears of each transaction's latency (and SQLite's commit batches), for metrics.
    public static func open(
        _ configuration: TegataConfiguration, observer: any StoreObserver = NoStoreObserver(), logger: Logger
    ) async throws -> any TegataStore & Service {
        let store: any TegataStore & Service
        switch configuration.database {
        case .sqlite(let path):
            store = try await SQLiteStore.openUnmigrated(path: path, synchronous: configuration.sqliteSynchronous, memory: configuration.sqliteMemory, observer: observer, logger: logger)
        case .postgres(let url):
            let timeout = Duration.milliseconds(Int64(configuration.databaseLockTimeout * 1000))
            // Waiting for a connection may include opening one (TLS, authentication): never less
            // than the 5 s that connecting is given.
            store = try await PostgresStore.open(
                url: url, poolSize: configuration.databasePoolSize, lockTimeout: timeout, leaseTimeout: max(timeout, .seconds(5)),
                observer: observer, logger: logger)
        }
        do {
            _ = try await store.migrate()
            return store
        } catch {
            await store.close()
            throw error
        }
    }

    /// Where the store lives, for messages (never credentials).
    public static func describe(_ database: TegataConfiguration.DatabaseLocation) -> String {
        switch database {
        case .sqlite(let path): "sqlite \(path)"
        case .postgres(let url): url.description
        }
    }
}
