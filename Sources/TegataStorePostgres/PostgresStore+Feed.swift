import Foundation
import PostgresNIO
import TegataCore

/// The revocation feed. Events are numbered from the `feed_clock` row, which each transaction that
/// records events locks until it commits: numbers follow commit order, so "every event up to the
/// clock value a snapshot sees" is exactly what that snapshot has — nothing numbered lower can
/// commit later. The cursor is that number, in decimal, as in the SQLite store.
extension PostgresStore {
    public func revocationEvents(after cursor: RevocationFeedCursor?, now: Date, limit: Int) async throws -> RevocationFeedPage {
        let after = try cursor?.sequence() ?? 0
        return try await read { connection in
            // One statement, one snapshot: the clock and the events it covers.
            let rows = try await Self.rows(
                """
                SELECT c.seq AS newest, e.seq, e.type, e.subject, e.token_version, e.until
                FROM feed_clock c
                LEFT JOIN LATERAL (
                    SELECT * FROM revocation_events
                    WHERE seq > \(after) AND seq <= c.seq AND until > \(now.ms) ORDER BY seq LIMIT \(limit)
                ) e ON true
                WHERE c.id = 1
                """, on: connection, logger: self.logger)
            guard let first = rows.first else { throw PostgresStoreError(description: "the feed clock row is missing") }
            let newest = try first["newest"].decode(Int64.self)
            var events: [RevocationEvent] = []
            for row in rows {
                guard let seq = try row["seq"].decode(Int64?.self) else { continue }
                let subject = try row["subject"].decode(String.self)
                let kind: RevocationEvent.Kind
                switch try row["type"].decode(String.self) {
                case "session": kind = .session(sid: subject)
                case "user": kind = .user(sub: subject, tokenVersion: try row["token_version"].decode(Int64.self))
                case "token": kind = .token(jti: subject)
                case let other: throw PostgresStoreError(description: "unknown revocation event type \(other)")
                }
                events.append(RevocationEvent(sequence: seq, kind: kind, until: Date(ms: try row["until"].decode(Int64.self))))
            }
            return RevocationFeedPage.numbered(events: events, after: after, newest: newest, limit: limit)
        }
    }
}
