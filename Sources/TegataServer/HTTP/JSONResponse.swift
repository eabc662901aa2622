import Foundation
import Hummingbird
import TegataWire

/// Building JSON responses.
enum JSONResponse {
    /// A JSON response. It is `Cache-Control: no-store` unless `headers` say otherwise
    /// (``NoStoreMiddleware``).
    static func make(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) throws -> Response {
        // The hot-path shapes write themselves (the same bytes, without JSONEncoder's cost).
        let data = if let writable = value as? any JSONWritable { writable.jsonBytes } else { Array(try WireCoding.makeEncoder().encode(value)) }
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
