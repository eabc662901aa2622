import Foundation

/// Times on the wire and in configuration: RFC 3339 text.
public enum WireTime {
    /// An RFC 3339 time, with or without fractional seconds (`2026-12-01T09:30:00Z`,
    /// `2026-12-01T09:30:00.250+09:00`); nil for anything else. The one reader of the admin API,
    /// the import format, the CLI and the configuration.
    public static func rfc3339(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
