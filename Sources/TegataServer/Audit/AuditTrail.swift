import Foundation
import Logging
import Synchronization
import TegataCore

/// Where the audit trail is written as JSON lines (`TEGATA_AUDIT_LOG`): standard error (beside the
/// request log, each line marked `"audience": "audit"`), standard output, a file (appended to), or
/// nowhere.
public enum AuditLogDestination: Sendable, Equatable {
    case standardError, standardOutput, off
    case file(path: String)
}

/// The server's audit trail: every event as one JSON line on its own stream and, when the operator
/// keeps it (`TEGATA_AUDIT_TABLE`), in the store's audit table through ``AuditTableWriter``.
/// Counted as `tegata_audit_events_total{type, outcome}`.
public final class AuditTrail: AuditSink, Sendable {
    private let stream: AuditLineStream?
    /// The table writer, when the table is on.
    public let table: AuditTableWriter?
    private let metrics: TegataMetrics
    private let trips: RateLimitTrips

    /// Creates the trail.
    init(destination: AuditLogDestination, table: AuditTableWriter?, metrics: TegataMetrics) throws {
        stream = try AuditLineStream(destination)
        self.table = table
        self.metrics = metrics
        trips = RateLimitTrips()
    }

    /// Writes one event.
    public func record(_ event: AuditEvent) {
        metrics.increment("tegata_audit_events_total", [("type", event.type.rawValue), ("outcome", event.outcome.rawValue)])
        stream?.write(event)
        table?.enqueue(event)
    }

    /// A rate limit refused a request from `origin`: written once per policy and client address
    /// per minute (a flood of refused requests must not become a flood of audit lines).
    func rateLimited(_ policy: RateLimitPolicy, origin: RequestOrigin, at now: Date) {
        guard trips.first(policy: policy.name, address: origin.addressKey ?? "", at: now) else { return }
        record(AuditEvent(.rateLimited, outcome: .failure, at: now, origin: origin, details: ["policy": policy.name]))
    }
}

/// The JSON-line form of an event, as the stream and `tegata audit` print it: the event's fields
/// (``AuditEvent``'s coding keys, every one present), `"audience": "audit"`, keys sorted, the time
/// in RFC 3339 with milliseconds.
public enum AuditLine {
    /// One line, without its newline.
    public static func encode(_ event: AuditEvent) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(time(date))
        }
        var line = Data(#"{"audience":"audit","#.utf8)
        let object = try encoder.encode(event)
        line.append(object.dropFirst())  // the event's own "{"
        return line
    }

    /// An event from a line written by ``encode(_:)``.
    public static func decode(_ line: Data) throws -> AuditEvent {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time"))
            }
            return date
        }
        var event = try decoder.decode(AuditEvent.self, from: line)
        event.time = AuditEvent(time: event.time, type: event.type).time  // whole milliseconds, as written
        return event
    }

    /// `2026-12-01T09:30:00.123Z`: the event's whole milliseconds (a formatter would truncate
    /// 0.123 stored as 0.12299…).
    static func time(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let adjusted = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        let whole = Date.ISO8601FormatStyle().format(Date(timeIntervalSince1970: TimeInterval(adjusted.0)))
        return whole.dropLast() + "." + String(format: "%03lld", adjusted.1) + "Z"
    }
}

/// Writes lines to one file descriptor, each with one `write`, one at a time.
final class AuditLineStream: Sendable {
    private let handle: Mutex<FileHandle>

    init?(_ destination: AuditLogDestination) throws {
        switch destination {
        case .off: return nil
        case .standardError: handle = Mutex(.standardError)
        case .standardOutput: handle = Mutex(.standardOutput)
        case .file(let path):
            // O_APPEND: each line lands at the end even when another process appends to the file too.
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw ConfigurationError(key: "TEGATA_AUDIT_LOG", message: "cannot open \(path) for appending (errno \(errno))")
            }
            handle = Mutex(FileHandle(fileDescriptor: descriptor, closeOnDealloc: true))
        }
    }

    func write(_ event: AuditEvent) {
        guard var line = try? AuditLine.encode(event) else { return }
        line.append(UInt8(ascii: "\n"))
        handle.withLock { $0.write(line) }
    }
}

/// Remembers, per policy and address, when a refusal was last audited.
private final class RateLimitTrips: Sendable {
    private let last = Mutex<[String: Date]>([:])
    /// One event per key per this long.
    static let interval: TimeInterval = 60
    /// Past this many keys the memory is cleared (a flood from many addresses writes more events, not more memory).
    static let capacity = 10_000

    func first(policy: String, address: String, at now: Date) -> Bool {
        let key = policy + " " + address
        return last.withLock { last in
            if let previous = last[key], now.timeIntervalSince(previous) < Self.interval, now >= previous { return false }
            if last.count >= Self.capacity { last.removeAll(keepingCapacity: true) }
            last[key] = now
            return true
        }
    }
}
