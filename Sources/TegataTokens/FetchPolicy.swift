import AsyncHTTPClient
import Foundation
import NIOCore

/// Where Tegata's and its verifier's outgoing requests may go (RFC 8725 §3.10: a key set fetched
/// over plain http, or through a redirect an on-path attacker chose, is the attacker's key set):
/// https only, plain http only to a loopback host (local development and tests), and no redirect.
public enum FetchPolicy {
    /// Why a URL or a response was refused.
    public struct Refusal: Error, CustomStringConvertible {
        /// What was refused (the URL's scheme and host only: never credentials or queries).
        public let description: String
    }

    /// An HTTP client that follows no redirect, for fetchers that were given none (created once per
    /// process and never shut down, like `HTTPClient.shared`).
    public static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5))))

    /// Whether `host` is a loopback name or address: `localhost`, `::1`, or an IPv4 address in
    /// 127.0.0.0/8 (four decimal parts — `127.0.0.1.example.com` is not one).
    public static func isLoopback(host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { part in !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255 }
    }

    /// Throws unless `url` is https, or plain http to a loopback host.
    public static func check(_ url: String) throws(Refusal) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host, !host.isEmpty else {
            throw Refusal(description: "not an absolute http(s) URL")
        }
        guard scheme == "https" || (scheme == "http" && isLoopback(host: host)) else {
            throw Refusal(description: "\(scheme)://\(host) is refused: only https, or plain http to a loopback host")
        }
    }

    /// Throws if `response` came through a redirect, whatever the client's configuration: every hop
    /// of its history must be the request itself (a client that follows redirects could otherwise
    /// have gone to another scheme or host).
    public static func checkNoRedirect(_ response: HTTPClientResponse) throws(Refusal) {
        guard response.history.count <= 1 else {
            let hops = response.history.compactMap { hop in URL(string: hop.request.url).map { "\($0.scheme ?? "?")://\($0.host ?? "?")" } }
            throw Refusal(description: "the answer came through a redirect (\(hops.joined(separator: " → "))), which is refused")
        }
    }
}
