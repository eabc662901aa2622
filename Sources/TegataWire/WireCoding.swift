import Foundation

/// The JSON coders every Tegata party uses, so dates are RFC 3339 on both sides.
public enum WireCoding {
    /// An encoder writing dates as RFC 3339 (whole seconds, UTC) and keys in a stable order.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A decoder reading RFC 3339 dates.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
