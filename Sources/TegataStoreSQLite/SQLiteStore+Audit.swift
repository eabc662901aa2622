import Foundation
import TegataCore

/// The audit table (migration 8): written in batches by the server's audit writer, read newest first.
extension SQLiteStore {
    public func appendAuditEvents(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        // A few statements of many rows each, not one per event: a batch costs a few prepares.
        let chunks = try stride(from: 0, to: events.count, by: Self.auditRowsPerStatement).map { start in
            let chunk = events[start..<min(start + Self.auditRowsPerStatement, events.count)]
            let values = try chunk.flatMap { event in
                [
                    SQLValue.text(event.id), .date(event.time), .text(event.type.rawValue), .text(event.outcome.rawValue),
                    .optionalText(event.userID), .optionalText(event.sessionID), .optionalText(event.clientAddress),
                    .optionalText(event.requestID), .text(try AuditDetails.encode(event.details)),
                ]
            }
            let rows = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            return (sql: """
                INSERT INTO audit_events (id, time, type, outcome, user_id, session_id, client_address, request_id, details)
                VALUES \(rows) ON CONFLICT DO NOTHING
                """, values: values)
        }
        try await writer.write { db -> Void in
            for chunk in chunks { try db.query(chunk.sql, chunk.values) }
        }
    }

    /// Rows per INSERT statement (9 values each, well under SQLite's 32,766 variables).
    static let auditRowsPerStatement = 100

    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let user = query.userID { conditions.append("user_id = ?"); values.append(.text(user)) }
        if let type = query.type { conditions.append("type = ?"); values.append(.text(type.rawValue)) }
        if let since = query.since { conditions.append("time >= ?"); values.append(.date(since)) }
        if let until = query.until { conditions.append("time < ?"); values.append(.date(until)) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        values.append(.int(query.limit))
        let sql = "SELECT * FROM audit_events \(filter) ORDER BY time DESC, id DESC LIMIT ?"
        let bound = values
        return try await readers.read { db in
            try db.query(sql, bound).map { row in
                let type = try row.string("type"), outcome = try row.string("outcome")
                guard let kind = AuditEventType(rawValue: type), let result = AuditOutcome(rawValue: outcome) else {
                    throw StorageError(description: "unknown audit event type \(type) or outcome \(outcome)")
                }
                return AuditEvent(
                    id: try row.string("id"), time: try row.date("time"), type: kind, outcome: result,
                    userID: try row.optionalString("user_id"), sessionID: try row.optionalString("session_id"),
                    clientAddress: try row.optionalString("client_address"), requestID: try row.optionalString("request_id"),
                    details: try AuditDetails.decode(try row.string("details")))
            }
        }
    }

    public func pruneAuditEvents(before: Date, limit: Int) async throws -> Int {
        try await writer.write { db in
            try db.query(
                "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE time < ? LIMIT ?) RETURNING id",
                [.date(before), .int(limit)]).count
        }
    }
}
