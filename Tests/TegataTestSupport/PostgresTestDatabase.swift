import Foundation
import Logging
import PostgresNIO
import TegataStorePostgres

/// Throwaway databases on the PostgreSQL server the tests are pointed at
/// (`TEGATA_TEST_POSTGRES_URL`, set by `.ci/run` from `Tests/Postgres/cluster.sh`): each test gets a
/// database of its own, dropped afterwards.
public enum PostgresTestDatabase {
    /// The server's URL, when one is configured.
    public static var serverURL: String? {
        guard let url = ProcessInfo.processInfo.environment["TEGATA_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// Whether PostgreSQL tests run: a server is configured. Under CI one must be (a test fails otherwise).
    public static var isConfigured: Bool { serverURL != nil }

    /// Creates an empty database and returns its URL.
    public static func create() async throws -> String {
        guard let serverURL else { throw NotConfigured() }
        let name = "tegata_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
        try await admin(serverURL) { connection, logger in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var components = URLComponents(string: serverURL)!
        components.path = "/" + name
        return components.string!
    }

    /// Drops a database `create()` made (closing whatever connections it still has).
    public static func drop(_ url: String) async {
        guard let serverURL, let name = URLComponents(string: url)?.path.dropFirst(), name.hasPrefix("tegata_test_") else { return }
        try? await admin(serverURL) { connection, logger in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    private static func admin(_ url: String, _ body: (PostgresConnection, Logger) async throws -> Void) async throws {
        try await withConnection(to: url, body)
    }

    /// Runs `body` on a connection of its own to `url`, outside any pool (to administer databases,
    /// or to hold locks against a store), closed afterwards.
    public static func withConnection<T>(to url: String, _ body: (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let parsed = try PostgresURL(parsing: url)
        var logger = Logger(label: "postgres-test-connection")
        logger.logLevel = .critical
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: parsed.host, port: parsed.port, username: parsed.user, password: parsed.password,
                                 database: parsed.database, tls: .disable),
            id: 1, logger: logger)
        do {
            let result = try await body(connection, logger)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    struct NotConfigured: Error, CustomStringConvertible {
        var description: String { "no PostgreSQL server is configured (TEGATA_TEST_POSTGRES_URL)" }
    }
}
