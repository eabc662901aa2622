import Foundation
import Hummingbird
import TegataWire

/// Building JSON responses.
enum JSONResponse {
    /// A JSON response; `noStore` adds `Cache-Control: no-store` (token responses, RFC 6749 §5.1).
    static func make(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, noStore: Bool = false, headers: HTTPFields = [:]
    ) throws -> Response {
        // The hot-path shapes write themselves (the same bytes, without JSONEncoder's cost).
        let data = if let writable = value as? any JSONWritable { writable.jsonBytes } else { Array(try WireCoding.makeEncoder().encode(value)) }
        var fields = headers
        fields[.contentType] = "application/json"
        if noStore {
            fields[.cacheControl] = "no-store"
        }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
