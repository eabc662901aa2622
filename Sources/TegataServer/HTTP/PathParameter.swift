import Foundation
import Hummingbird
import TegataCore

extension RequestContext {
    /// The path parameter `name`, percent-decoded (the router hands it over as the client wrote it,
    /// so `usr%3A1` would otherwise never match the user `usr:1`). A parameter that does not decode
    /// (a stray `%`, or bytes that are not UTF-8) is the client's mistake: 400 `invalid_request`.
    func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        guard let decoded = String(raw).removingPercentEncoding else {
            throw TegataError.invalidRequest("the path is not percent-encoded properly")
        }
        return decoded
    }
}
