import Foundation
import TegataCore

/// The revocation feed. Its cursor is the decimal sequence of the last event seen: with one
/// writer, an event committed later always has a larger sequence, which is the ordering guarantee
/// the protocol asks for.
extension SQLiteStore {
    public func revocationEvents(after cursor: RevocationFeedCursor?, now: Date, limit: Int) async throws -> RevocationFeedPage {
        let after = try cursor?.sequence() ?? 0
        return try await readers.read { db in
            try db.snapshot {
                // The newest sequence bounds the page: an event committed later has a larger sequence
                // and is returned next time, never skipped.
                let newest = try db.query("SELECT COALESCE(MAX(seq), 0) AS seq FROM revocation_events").first?.int("seq") ?? 0
                let rows = try db.query(
                    "SELECT * FROM revocation_events WHERE seq > ? AND seq <= ? AND until > ? ORDER BY seq LIMIT ?",
                    [.integer(after), .integer(newest), .date(now), .int(limit)])
                let events = try rows.map { row -> RevocationEvent in
                    let subject = try row.string("subject")
                    let kind: RevocationEvent.Kind
                    switch try row.string("type") {
                    case "session": kind = .session(sid: subject)
                    case "user": kind = .user(sub: subject, tokenVersion: try row.int("token_version"))
                    case "token": kind = .token(jti: subject)
                    case let other: throw StorageError(description: "unknown revocation event type \(other)")
                    }
                    return RevocationEvent(sequence: try row.int("seq"), kind: kind, until: try row.date("until"))
                }
                return RevocationFeedPage.numbered(events: events, after: after, newest: newest, limit: limit)
            }
        }
    }

    /// Records a feed event (in the caller's write transaction).
    static func insert(_ event: NewRevocationEvent, now: Date, on db: Database) throws {
        let type: String, subject: String, tokenVersion: Int64?
        switch event.kind {
        case .session(let sid): (type, subject, tokenVersion) = ("session", sid, nil)
        case .user(let sub, let version): (type, subject, tokenVersion) = ("user", sub, version)
        case .token(let jti): (type, subject, tokenVersion) = ("token", jti, nil)
        }
        try db.query(
            "INSERT INTO revocation_events (type, subject, token_version, until, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(type), .text(subject), .optionalInteger(tokenVersion), .date(event.until), .date(now)])
    }
}
