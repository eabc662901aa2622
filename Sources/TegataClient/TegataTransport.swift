import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sends one HTTP request. The client talks to Tegata, and sends authorised requests, only through
/// this, so an app can add its own networking (certificate pinning, proxies, metrics).
public protocol TegataTransport: Sendable {
    /// Sends `request` and returns the body and the response; throws only when no response came.
    func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse)
}

/// The default transport: a `URLSession` (FoundationNetworking on Linux).
public struct URLSessionTransport: TegataTransport {
    private let session: URLSession

    /// A transport on `session`; by default an ephemeral session, so no token response is cached
    /// on disk and no cookie is kept.
    public init(session: URLSession = URLSession(configuration: .ephemeral)) {
        self.session = session
    }

    /// Sends the request with `URLSession.data(for:)`.
    public func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else {
            throw TegataClientError.invalidResponse("not an HTTP response")
        }
        return (data, http)
    }
}
