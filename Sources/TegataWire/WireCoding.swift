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

extension KeyedDecodingContainer {
    /// Like `decodeIfPresent`, but an explicit `null` is an error, not "absent": a request that says
    /// `{"scope": null}` meant something, and guessing what is how a body ends up logging a user out
    /// somewhere it did not mean to. The error is `valueNotFound` at the field's path.
    public func decodeIfPresentRefusingNull<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(
                T.self, DecodingError.Context(codingPath: codingPath + [key], debugDescription: "null is not allowed"))
        }
        return try decode(T.self, forKey: key)
    }
}
