import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches key sets and discovery documents with AsyncHTTPClient: a bounded time, a bounded body,
/// https only (plain http only to a loopback host), no redirect, and only a 200 answer counts
/// (``FetchPolicy``).
public struct HTTPDocumentFetcher: DocumentFetching {
    /// The HTTP client.
    public let client: HTTPClient
    /// Longest wait for one document.
    public var timeout: TimeAmount = .seconds(10)
    /// Largest body accepted.
    public var maximumBodySize = 512 * 1024

    struct FetchError: Error, CustomStringConvertible {
        let description: String
    }

    /// A fetcher on `client` (one that follows no redirect by default; a client that does follow
    /// them still gets no redirected answer through).
    public init(client: HTTPClient = FetchPolicy.client) {
        self.client = client
    }

    /// GETs `url`; only a 200 answer with a body within the limit counts.
    public func get(_ url: String) async throws -> FetchedDocument {
        try FetchPolicy.check(url)
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tegata")
        let response = try await client.execute(request, timeout: timeout)
        try FetchPolicy.checkNoRedirect(response)
        guard response.status == .ok else {
            throw FetchError(description: "GET \(url) answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: maximumBodySize)
        return FetchedDocument(
            body: Data(body.readableBytesView),
            maxAge: FetchedDocument.lifetime(
                cacheControl: response.headers.first(name: "Cache-Control"), age: response.headers.first(name: "Age")))
    }
}
