import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A reverse proxy on a loopback port that forwards every request to `target` and counts them by
/// path, so a test can prove what a program (e.g. a resource server) asks Tegata, and how often.
public final class CountingProxy: Sendable {
    /// The port it listens on.
    public let port: Int
    private let target: String
    private let counts = Mutex<[String: Int]>([:])

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, target: String) {
        self.port = port
        self.target = target
    }

    /// Requests seen per path (without the query string) since the start or the last reset.
    public var requests: [String: Int] { counts.withLock { $0 } }

    /// Forgets the counts.
    public func reset() { counts.withLock { $0 = [:] } }

    /// Runs a proxy on `port` to `target` (e.g. `http://127.0.0.1:8080`) for the duration of `body`.
    public static func with<T: Sendable>(
        port: Int, target: String, _ body: @Sendable (CountingProxy) async throws -> T
    ) async throws -> T {
        let proxy = CountingProxy(port: port, target: target)
        var logger = Logger(label: "counting-proxy")
        logger.logLevel = .critical
        return try await withRunningApplication({ onServerRunning in
            Application(
                responder: Responder(proxy: proxy), configuration: .init(address: .hostname("127.0.0.1", port: port)),
                onServerRunning: { await onServerRunning($0.localAddress?.port ?? 0) }, logger: logger)
        }) { _ in try await body(proxy) }
    }

    private struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        let proxy: CountingProxy

        func respond(to request: Request, context: Context) async throws -> Response {
            proxy.counts.withLock { $0[request.uri.path, default: 0] += 1 }
            var forwarded = HTTPClientRequest(url: proxy.target + request.uri.description)
            forwarded.method = HTTPMethod(rawValue: request.method.rawValue)
            for field in request.headers where field.name != .contentLength {
                forwarded.headers.add(name: field.name.rawName, value: field.value)
            }
            let body = try await request.body.collect(upTo: 1024 * 1024)
            if body.readableBytes > 0 { forwarded.body = .bytes(body) }
            let answer = try await HTTPClient.shared.execute(forwarded, timeout: .seconds(60))
            var headers = HTTPFields()
            for (name, value) in answer.headers {
                guard let field = HTTPField.Name(name), field != .contentLength, field != .transferEncoding, field != .connection else { continue }
                headers.append(HTTPField(name: field, value: value))
            }
            let data = try await answer.body.collect(upTo: 8 * 1024 * 1024)
            return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: data))
        }
    }
}
