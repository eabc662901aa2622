import Foundation

/// Where a PostgreSQL store lives: `postgres://user:password@host:port/database?sslmode=…` (or
/// `postgresql://`). Parsing never puts the password into an error text, and ``description``
/// never shows it.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// The TLS the URL asks for (`sslmode`): `disable`; `prefer` (TLS when the server offers it,
    /// without checking its certificate — libpq's default); `require` (TLS, certificate not
    /// checked, as libpq does); `verify-full` (TLS, certificate and host name checked).
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port (5432 by default).
    public var port: Int
    /// The user to connect as.
    public var user: String
    /// The password, if any (never shown).
    public var password: String?
    /// The database name (the user's name by default, as libpq does).
    public var database: String
    /// The TLS mode.
    public var tls: TLSMode

    /// Parses a URL; the error names what is wrong, never the password.
    public init(parsing text: String) throws(PostgresURLError) {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw PostgresURLError("must start with postgres:// or postgresql://")
        }
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw PostgresURLError("needs a host: postgres://user:password@host:port/database")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError("needs a user: postgres://user:password@host:port/database")
        }
        self.host = host
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw PostgresURLError("has a port outside 1–65535") }
        self.port = port
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else { throw PostgresURLError("has a path that is not one database name") }
        self.database = path.isEmpty ? self.user : (path.removingPercentEncoding ?? path)
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw PostgresURLError("has an sslmode other than \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            default:
                throw PostgresURLError("has a parameter Tegata does not know: \(item.name) (only sslmode)")
            }
        }
        self.tls = tls
    }

    /// `postgres user@host:port/database`, without the password.
    public var description: String { "postgres \(user)@\(host):\(port)/\(database)" }
}

/// A PostgreSQL URL that cannot be used; the reason never contains the password.
public struct PostgresURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
