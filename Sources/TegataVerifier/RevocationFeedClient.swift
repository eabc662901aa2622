import AsyncHTTPClient
import Foundation
import TegataTokens
import NIOCore
import NIOHTTP1
import TegataWire

/// A call of Tegata's resource-server endpoints failed (no answer, an unexpected status or body).
/// The text never holds the client secret.
struct ResourceServerCallFailure: Error, CustomStringConvertible {
    let description: String
}

/// The `Authorization` value of a resource-server client: HTTP Basic, with id and secret
/// form-encoded first as RFC 6749 §2.3.1 says.
func basicAuthorization(clientID: String, clientSecret: String) -> String {
    func formEncode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? value
    }
    return "Basic " + Data("\(formEncode(clientID)):\(formEncode(clientSecret))".utf8).base64EncodedString()
}

/// `<issuer>/<path>` for an issuer with or without a trailing slash.
func tegataEndpoint(_ issuer: String, _ path: String) -> String {
    issuer.hasSuffix("/") ? issuer + path : issuer + "/" + path
}

/// One long poll of `GET /v1/revocations`, with the resource-server client's HTTP Basic credentials.
struct RevocationFeedClient: Sendable {
    let client: HTTPClient
    let endpoint: String
    let authorization: String

    typealias Failure = ResourceServerCallFailure

    init(client: HTTPClient, issuer: String, clientID: String, clientSecret: String) {
        self.client = client
        endpoint = tegataEndpoint(issuer, "v1/revocations")
        authorization = basicAuthorization(clientID: clientID, clientSecret: clientSecret)
    }

    /// The events after `cursor` (all retained ones without it), waiting up to `wait` seconds for one.
    func poll(after cursor: String?, wait: Int) async throws -> RevocationFeed {
        var url = endpoint + "?wait=\(wait)"
        if let cursor, let escaped = cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            url += "&after=\(escaped)"
        }
        try FetchPolicy.check(url)
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .seconds(Int64(wait) + 15))
        try FetchPolicy.checkNoRedirect(response)
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
