import Foundation
import PostgresNIO
import TegataCore

/// The audit table (migration 3): written in batches by the server's audit writer, read newest
/// first. Each replica appends its own events; ids are random, so batches never conflict.
extension PostgresStore {
    public func appendAuditEvents(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        // One statement for the whole batch: columns as arrays, unnested into rows. Absent values
        // travel as empty strings (no id, address or request id is ever empty) and become NULL.
        let ids = events.map(\.id), times = events.map(\.time.ms), types = events.map(\.type.rawValue)
        let outcomes = events.map(\.outcome.rawValue), users = events.map { $0.userID ?? "" }
        let sessions = events.map { $0.sessionID ?? "" }, addresses = events.map { $0.clientAddress ?? "" }
        let requests = events.map { $0.requestID ?? "" }, details = try events.map { try AuditDetails.encode($0.details) }
        try await transaction { connection in
            try await connection.run(
                """
                INSERT INTO audit_events (id, time, type, outcome, user_id, session_id, client_address, request_id, details)
                SELECT id, time, type, outcome, NULLIF(user_id, ''), NULLIF(session_id, ''), NULLIF(client_address, ''),
                       NULLIF(request_id, ''), details
                FROM UNNEST(\(ids)::TEXT[], \(times)::BIGINT[], \(types)::TEXT[], \(outcomes)::TEXT[], \(users)::TEXT[],
                            \(sessions)::TEXT[], \(addresses)::TEXT[], \(requests)::TEXT[], \(details)::TEXT[])
                     AS e(id, time, type, outcome, user_id, session_id, client_address, request_id, details)
                ON CONFLICT DO NOTHING
                """, logger: self.logger)
        }
    }

    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        let user = query.userID, type = query.type?.rawValue
        let since = query.since?.ms, until = query.until?.ms
        return try await read { connection in
            let rows = try await Self.rows(
                """
                SELECT * FROM audit_events
                WHERE (\(user)::TEXT IS NULL OR user_id = \(user)) AND (\(type)::TEXT IS NULL OR type = \(type))
                  AND (\(since)::BIGINT IS NULL OR time >= \(since)) AND (\(until)::BIGINT IS NULL OR time < \(until))
                ORDER BY time DESC, id DESC LIMIT \(query.limit)
                """, on: connection, logger: self.logger)
            return try rows.map { row in
                let type = try row["type"].decode(String.self), outcome = try row["outcome"].decode(String.self)
                guard let kind = AuditEventType(rawValue: type), let result = AuditOutcome(rawValue: outcome) else {
                    throw PostgresStoreError(description: "unknown audit event type \(type) or outcome \(outcome)")
                }
                return AuditEvent(
                    id: try row["id"].decode(String.self), time: Date(ms: try row["time"].decode(Int64.self)), type: kind,
                    outcome: result, userID: try row["user_id"].decode(String?.self),
                    sessionID: try row["session_id"].decode(String?.self),
                    clientAddress: try row["client_address"].decode(String?.self),
                    requestID: try row["request_id"].decode(String?.self),
                    details: try AuditDetails.decode(try row["details"].decode(String.self)))
            }
        }
    }

    public func pruneAuditEvents(before: Date, limit: Int) async throws -> Int {
        try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM audit_events WHERE id IN (
                    SELECT id FROM audit_events WHERE time < \(before.ms) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING id
                """, logger: self.logger).collect().count
        }
    }
}
