import Foundation
import Logging
import PostgresNIO

/// The statements every request runs — the access-token check, the refresh's lock and rotation, a
/// user record — prepared once per pooled connection (postgres-nio prepares a statement by its
/// name on first use and keeps it for the connection's life), so PostgreSQL parses and plans them
/// once instead of on every request. They name their columns (never `*`): a prepared statement's
/// result shape must not change under it when a later migration adds a column.
protocol PreparedRows: PostgresPreparedStatement where Row == PostgresRow {}

extension PreparedRows {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

extension PostgresConnection {
    /// Runs a prepared statement and reads its whole answer (an error PostgreSQL reports while it
    /// executes is thrown here, as ``run(_:logger:)`` does for a query).
    func rows<Statement: PreparedRows>(_ statement: Statement, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await execute(statement, logger: logger) {
            rows.append(row.makeRandomAccess())
        }
        return rows
    }
}

/// The access-token check's two forms, bound alike: `$1` the session id, `$2` the token's `jti`.
protocol AuthStateStatement: PreparedRows {
    var sessionID: String { get }
    var jti: String? { get }
}

extension AuthStateStatement {
    static var bindingDataTypes: [PostgresDataType] { [.text, .text] }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        try bindings.append(sessionID)
        try bindings.append(jti)
        return bindings
    }
}

enum Statements {
    /// A session's columns, from `sessions s`.
    static let sessionColumns = """
        s.id, s.user_id, s.device_id, s.platform, s.amr, s.client_id, s.created_at, s.last_refreshed_at, s.rotated_at,
        s.generation, s.absolute_expires_at, s.revoked_at, s.hook_claims, s.dpop_jkt
        """

    /// The access-token check: the session, its user's token version, whether the token's `jti`
    /// is revoked, and (``WithUser``) the user record — one statement, one snapshot.
    struct AuthState: AuthStateStatement {
        static let sql = """
            SELECT \(sessionColumns), u.token_version AS user_token_version,
                   EXISTS (SELECT 1 FROM revocation_events e WHERE e.type = 'token' AND e.subject = $2) AS token_revoked
            FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1
            """
        let sessionID: String
        let jti: String?
    }

    struct AuthStateWithUser: AuthStateStatement {
        static let sql = """
            SELECT \(sessionColumns), u.token_version AS user_token_version,
                   EXISTS (SELECT 1 FROM revocation_events e WHERE e.type = 'token' AND e.subject = $2) AS token_revoked,
                   \(PostgresStore.userRecordColumns)
            FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1
            """
        let sessionID: String
        let jti: String?
    }

    /// A refresh's first statement: the session, locked until the transaction ends.
    struct LockSession: PreparedRows {
        static let sql = "SELECT \(sessionColumns) FROM sessions s WHERE s.id = $1 FOR UPDATE"
        static var bindingDataTypes: [PostgresDataType] { [.text] }
        let sessionID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            try bindings.append(sessionID)
            return bindings
        }
    }

    /// A rotation, and the user record the new tokens carry.
    struct Rotate: PreparedRows {
        static let sql = """
            WITH rotated AS (
                UPDATE sessions SET generation = $2, last_refreshed_at = $3, rotated_at = $4 WHERE id = $1 RETURNING user_id)
            SELECT \(PostgresStore.userRecordColumns) FROM users u JOIN rotated r ON r.user_id = u.id
            """
        static var bindingDataTypes: [PostgresDataType] { [.text, .int8, .int8, .int8] }
        let sessionID: String
        let generation: Int64
        let lastRefreshedAt: Int64
        let rotatedAt: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            try bindings.append(sessionID)
            try bindings.append(generation)
            try bindings.append(lastRefreshedAt)
            try bindings.append(rotatedAt)
            return bindings
        }
    }

    /// A user record by the user's id.
    struct UserRecordByID: PreparedRows {
        static let sql = "SELECT \(PostgresStore.userRecordColumns) FROM users u WHERE u.id = $1"
        static var bindingDataTypes: [PostgresDataType] { [.text] }
        let userID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            try bindings.append(userID)
            return bindings
        }
    }
}
