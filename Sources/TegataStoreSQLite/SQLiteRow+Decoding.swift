import Foundation
import NIOCore
import SQLiteNIO
import TegataCore

/// Reading typed values out of rows; a missing or mistyped column is a storage error (a bug or a
/// damaged database), never silently a default.
struct StorageError: Error, CustomStringConvertible {
    let description: String
}

extension SQLiteRow {
    func string(_ name: String) throws -> String {
        guard let value = column(name)?.string else { throw StorageError(description: "column \(name) is not text") }
        return value
    }

    func optionalString(_ name: String) -> String? {
        guard let data = column(name), !data.isNull else { return nil }
        return data.string
    }

    func int(_ name: String) throws -> Int64 {
        guard let value = column(name)?.integer else { throw StorageError(description: "column \(name) is not an integer") }
        return Int64(value)
    }

    func optionalInt(_ name: String) -> Int64? {
        guard let data = column(name), !data.isNull else { return nil }
        return data.integer.map(Int64.init)
    }

    func bool(_ name: String) throws -> Bool { try int(name) != 0 }

    func date(_ name: String) throws -> Date { Date(millisecondsSince1970: try int(name)) }

    func optionalDate(_ name: String) -> Date? { optionalInt(name).map(Date.init(millisecondsSince1970:)) }

    func blob(_ name: String) throws -> Data {
        guard let buffer = column(name)?.blob else { throw StorageError(description: "column \(name) is not a blob") }
        return Data(buffer.readableBytesView)
    }
}

extension Date {
    /// Milliseconds since 1970, as stored.
    var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

extension SQLiteData {
    static func date(_ date: Date) -> SQLiteData { .integer(Int(date.millisecondsSince1970)) }
    static func optionalDate(_ date: Date?) -> SQLiteData { date.map { .date($0) } ?? .null }
    static func optionalText(_ text: String?) -> SQLiteData { text.map { .text($0) } ?? .null }
    static func bytes(_ data: Data) -> SQLiteData { .blob(ByteBuffer(bytes: data)) }
    static func int64(_ value: Int64) -> SQLiteData { .integer(Int(value)) }
}
