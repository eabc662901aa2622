import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TegataWire

/// One long poll of `GET /v1/revocations`, with the resource-server client's HTTP Basic credentials.
struct RevocationFeedClient: Sendable {
    let client: HTTPClient
    let endpoint: String
    let authorization: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(client: HTTPClient, issuer: String, clientID: String, clientSecret: String) {
        self.client = client
        endpoint = issuer.hasSuffix("/") ? issuer + "v1/revocations" : issuer + "/v1/revocations"
        authorization = "Basic " + Data("\(Self.formEncode(clientID)):\(Self.formEncode(clientSecret))".utf8).base64EncodedString()
    }

    /// RFC 6749 §2.3.1: client id and secret are form-encoded before Basic encoding.
    private static func formEncode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? value
    }

    /// The events after `cursor` (all retained ones without it), waiting up to `wait` seconds for one.
    func poll(after cursor: String?, wait: Int) async throws -> RevocationFeed {
        var url = endpoint + "?wait=\(wait)"
        if let cursor, let escaped = cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            url += "&after=\(escaped)"
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .seconds(Int64(wait) + 15))
        guard response.status == .ok else {
            throw Failure(description: "GET /v1/revocations answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: 8 * 1024 * 1024)
        do {
            return try WireCoding.makeDecoder().decode(RevocationFeed.self, from: Data(body.readableBytesView))
        } catch {
            throw Failure(description: "GET /v1/revocations answered a body that is not a feed page")
        }
    }
}
