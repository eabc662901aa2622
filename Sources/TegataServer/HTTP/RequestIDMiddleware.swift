import HTTPTypes
import Hummingbird
import Logging
import TegataCore

/// Gives every request an id that follows it end to end: the client's `X-Request-Id` when it is
/// sane (1 to 128 characters of `A-Z a-z 0-9 - _ . : / + =`, as proxies and tracing systems write
/// them), a new random one otherwise. It is returned in `X-Request-Id`, set in the context
/// (`requestID`) and in the request's log metadata (`request_id`, in place of Hummingbird's
/// `hb.request.id`).
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = TegataRequestContext
    static let field = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let values = request.headers[values: Self.field]
        let id = values.count == 1 && Self.isSane(values[0]) ? values[0] : RandomID.uuid()
        var context = context
        context.logger[metadataKey: "hb.request.id"] = nil
        context.logger[metadataKey: "request_id"] = .string(id)
        context.requestID = id
        var response = try await next(request, context)
        response.headers[Self.field] = id
        return response
    }

    /// Whether a client's id can be kept: short, and only characters that cannot break a log line,
    /// a header or a JSON string.
    static func isSane(_ value: String) -> Bool {
        let bytes = value.utf8
        return (1...128).contains(bytes.count) && bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"),
                 UInt8(ascii: "+"), UInt8(ascii: "="):
                true
            default: false
            }
        }
    }
}
