import Foundation
import Synchronization
// SQLite itself, as compiled into sqlite-nio (its functions carry the `sqlite_nio_` prefix). The store
// calls it synchronously on threads of its own (see `DatabaseThreads.swift`): a statement costs a few
// microseconds, far less than the thread-pool round trip per statement that sqlite-nio's async API costs.
import VaporCSQLite

/// A value bound to, or read from, a statement.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    static func date(_ date: Date) -> SQLValue { .integer(date.millisecondsSince1970) }
    static func optionalDate(_ date: Date?) -> SQLValue { date.map { .date($0) } ?? .null }
    static func optionalText(_ text: String?) -> SQLValue { text.map { .text($0) } ?? .null }
    static func optionalInteger(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
    static func int(_ value: Int) -> SQLValue { .integer(Int64(value)) }
    static func bool(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }
}

/// One result row. Columns are found by name; a missing or mistyped column is a storage error
/// (a bug or a damaged database), never silently a default.
struct Row: Sendable {
    let names: [String]
    let values: [SQLValue]

    subscript(_ name: String) -> SQLValue? {
        guard let index = names.firstIndex(of: name) else { return nil }
        return values[index]
    }

    func string(_ name: String) throws -> String {
        guard case .text(let value)? = self[name] else { throw StorageError(description: "column \(name) is not text") }
        return value
    }

    func optionalString(_ name: String) throws -> String? {
        switch self[name] {
        case .null?: return nil
        case .text(let value)?: return value
        default: throw StorageError(description: "column \(name) is not text or null")
        }
    }

    func int(_ name: String) throws -> Int64 {
        guard case .integer(let value)? = self[name] else { throw StorageError(description: "column \(name) is not an integer") }
        return value
    }

    func optionalInt(_ name: String) throws -> Int64? {
        switch self[name] {
        case .null?: return nil
        case .integer(let value)?: return value
        default: throw StorageError(description: "column \(name) is not an integer or null")
        }
    }

    func bool(_ name: String) throws -> Bool { try int(name) != 0 }

    func double(_ name: String) throws -> Double {
        switch self[name] {
        case .real(let value)?: return value
        case .integer(let value)?: return Double(value)
        default: throw StorageError(description: "column \(name) is not a number")
        }
    }

    func date(_ name: String) throws -> Date { Date(millisecondsSince1970: try int(name)) }

    func optionalDate(_ name: String) throws -> Date? { try optionalInt(name).map(Date.init(millisecondsSince1970:)) }

    func blob(_ name: String) throws -> Data {
        guard case .blob(let value)? = self[name] else { throw StorageError(description: "column \(name) is not a blob") }
        return value
    }
}

/// A failure inside the store: SQLite's own error, or data that does not make sense.
struct StorageError: Error, CustomStringConvertible {
    let description: String
}

/// One SQLite connection, used by one thread at a time (opened with `SQLITE_OPEN_NOMUTEX`). Prepared
/// statements are kept and reused by their SQL text.
final class Database {
    private let handle: OpaquePointer
    private var statements: [String: Statement] = [:]

    private static let initialised = Mutex(false)

    /// Opens (creating if needed) the database file at `path`.
    init(path: String) throws {
        Self.initialised.withLock { done in
            if !done {
                _ = sqlite_nio_sqlite3_initialize()
                done = true
            }
        }
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "code \(status)"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw StorageError(description: "cannot open the database at \(path): \(message)")
        }
        self.handle = handle
    }

    deinit {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.handle) }
        sqlite_nio_sqlite3_close_v2(handle)
    }

    /// Runs one statement without parameters, ignoring its rows (pragmas, transaction control).
    /// Prepared once and kept, like every statement: `BEGIN`, `SAVEPOINT` and `COMMIT` run for every job.
    func execute(_ sql: String) throws {
        try query(sql)
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ bindings: [SQLValue] = []) throws -> [Row] {
        let statement = try prepared(sql)
        // Every parameter is bound on every use, so no `sqlite3_clear_bindings`: it would mark
        // statements with parameter-dependent plans as expired and make SQLite re-prepare them.
        defer { sqlite_nio_sqlite3_reset(statement.handle) }
        try bind(bindings, to: statement)
        var rows: [Row] = []
        while true {
            let status = sqlite_nio_sqlite3_step(statement.handle)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw error(status, doing: sql) }
            rows.append(Row(names: statement.columnNames, values: readRow(statement)))
        }
    }

    /// True outside a transaction: SQLite ends a transaction by itself after some errors (a full
    /// disk, an I/O error), and the caller has to know.
    var isAutocommit: Bool { sqlite_nio_sqlite3_get_autocommit(handle) != 0 }

    /// How often SQLite had to prepare the cached statement for `sql` again (0 when it is reused as is).
    func reprepareCount(_ sql: String) -> Int {
        statements[sql].map { Int(sqlite_nio_sqlite3_stmt_status($0.handle, SQLITE_STMTSTATUS_REPREPARE, 0)) } ?? 0
    }

    // MARK: Internals

    private struct Statement {
        let handle: OpaquePointer
        let columnNames: [String]
        let parameterCount: Int
    }

    private func prepared(_ sql: String) throws -> Statement {
        if let statement = statements[sql] { return statement }
        var raw: OpaquePointer?
        var rest = ""
        let status = sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            let status = sqlite_nio_sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, &tail)
            rest = tail.map { String(cString: $0) } ?? ""
            return status
        }
        guard status == SQLITE_OK, let raw else { throw error(status, doing: sql) }
        guard rest.allSatisfy({ $0.isWhitespace || $0 == ";" }) else {
            sqlite_nio_sqlite3_finalize(raw)
            throw StorageError(description: "one statement at a time: \(sql)")
        }
        let count = sqlite_nio_sqlite3_column_count(raw)
        let names = (0..<count).map { String(cString: sqlite_nio_sqlite3_column_name(raw, $0)) }
        let statement = Statement(
            handle: raw, columnNames: names, parameterCount: Int(sqlite_nio_sqlite3_bind_parameter_count(raw)))
        statements[sql] = statement
        return statement
    }

    private func bind(_ values: [SQLValue], to statement: Statement) throws {
        guard values.count == statement.parameterCount else {
            throw StorageError(description: "\(values.count) values for \(statement.parameterCount) parameters")
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null:
                status = sqlite_nio_sqlite3_bind_null(statement.handle, index)
            case .integer(let integer):
                status = sqlite_nio_sqlite3_bind_int64(statement.handle, index, integer)
            case .real(let real):
                status = sqlite_nio_sqlite3_bind_double(statement.handle, index, real)
            case .text(let text):
                var text = text
                status = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        guard let start = chars.baseAddress else {
                            return sqlite_nio_sqlite3_bind_text(statement.handle, index, "", 0, transient)
                        }
                        // With its length, so a NUL inside the text is stored, not a cut.
                        return sqlite_nio_sqlite3_bind_text64(
                            statement.handle, index, start, UInt64(chars.count), transient, UInt8(SQLITE_UTF8))
                    }
                }
            case .blob(let data):
                status = data.withUnsafeBytes { bytes in
                    // A zero-length blob still needs a non-null pointer, or SQLite binds NULL.
                    sqlite_nio_sqlite3_bind_blob64(
                        statement.handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count), transient)
                }
            }
            guard status == SQLITE_OK else { throw error(status, doing: "binding parameter \(index)") }
        }
    }

    private func readRow(_ statement: Statement) -> [SQLValue] {
        let raw = statement.handle
        return (0..<Int32(statement.columnNames.count)).map { column in
            switch sqlite_nio_sqlite3_column_type(raw, column) {
            case SQLITE_INTEGER:
                return .integer(sqlite_nio_sqlite3_column_int64(raw, column))
            case SQLITE_FLOAT:
                return .real(sqlite_nio_sqlite3_column_double(raw, column))
            case SQLITE_TEXT:
                let count = Int(sqlite_nio_sqlite3_column_bytes(raw, column))
                guard let bytes = sqlite_nio_sqlite3_column_text(raw, column) else { return .text("") }
                return .text(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self))
            case SQLITE_BLOB:
                let count = Int(sqlite_nio_sqlite3_column_bytes(raw, column))
                guard let bytes = sqlite_nio_sqlite3_column_blob(raw, column) else { return .blob(Data()) }
                return .blob(Data(bytes: bytes, count: count))
            default:
                return .null
            }
        }
    }

    private func error(_ status: Int32, doing what: String) -> StorageError {
        let message = String(cString: sqlite_nio_sqlite3_errmsg(handle))
        // The SQL text is ours and names no values; parameters are never part of the message.
        return StorageError(description: "SQLite error \(status) (\(message)) in: \(what)")
    }
}

extension Date {
    /// Milliseconds since 1970, as stored.
    var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}
