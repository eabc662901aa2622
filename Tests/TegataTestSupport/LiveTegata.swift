import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataServer
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A real Tegata server on a loopback socket in the test process, on the system clock, with its data
/// in a directory that outlives it (so a test can stop it and start it again on the same port).
public struct LiveTegata: Sendable {
    /// The data directory.
    public let directory: String
    /// The bound port.
    public let port: Int
    /// `http://127.0.0.1:<port>`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }
    /// The running server's store (nil for a handle on a server that is not running): tests look at
    /// stored state through it, never through the database file, so they hold for every store.
    public let store: (any TegataStore)?
    /// The running server's services (nil for a handle on a server that is not running).
    public let services: TegataServices?

    /// A handle on a server at `port` with its data in `directory` (without a store and services: a
    /// server that is not running, to build a client for it while it is down).
    public init(directory: String, port: Int, store: (any TegataStore)? = nil, services: TegataServices? = nil) {
        self.directory = directory
        self.port = port
        self.store = store
        self.services = services
    }

    /// A fresh data directory path.
    public static func makeDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tegata-client-test-\(UUID().uuidString)").path
    }

    /// Runs a server for the duration of `body`.
    public static func with<T: Sendable>(
        directory: String = makeDirectory(), port: Int = 0,
        _ configure: @Sendable (inout TegataConfiguration) -> Void = { _ in },
        _ body: @Sendable (LiveTegata) async throws -> T
    ) async throws -> T {
        var configuration = TegataConfiguration(dataDirectory: directory)
        configuration.host = "127.0.0.1"
        configuration.port = port
        // On a known port the issuer is the server's real URL (verifiers find its keys through it).
        configuration.issuer = port == 0 ? "http://127.0.0.1:8080" : "http://127.0.0.1:\(port)"
        configuration.audience = configuration.issuer
        configuration.auditLog = .off
        configure(&configuration)
        var logger = Logger(label: "tegata-client-test")
        logger.logLevel = .critical
        let services = try await TegataServices.make(configuration: configuration, clock: SystemClock(), logger: logger)
        return try await withRunningApplication({ onServerRunning in
            buildApplication(services: services, onServerRunning: onServerRunning)
        }) { bound in try await body(LiveTegata(directory: directory, port: bound, store: services.store, services: services)) }
    }

    /// The running server's store, or a test failure for a server that is not running.
    public func runningStore() throws -> any TegataStore {
        struct NotRunning: Error, CustomStringConvertible { var description: String { "the server is not running" } }
        guard let store else { throw NotRunning() }
        return store
    }

    /// How many times the session was rotated (its refresh-token generation); -1 for no such session.
    public func generation(ofSession id: String) async throws -> Int {
        try await runningStore().session(id: id).map { Int($0.generation) } ?? -1
    }

    /// The user an unrevoked device is registered to.
    public func owner(ofDevice id: String) async throws -> String? {
        try await runningStore().deviceOwner(deviceID: id)
    }

    /// The session ids of a user, oldest first, with whether each is revoked.
    public func sessions(ofUser id: String) async throws -> [(id: String, revoked: Bool)] {
        try await runningStore().sessions(ofUser: id).map { ($0.id, $0.revokedAt != nil) }
    }

    /// A plain request to the server, not through the client.
    public func raw(
        _ method: String, _ path: String, token: String? = nil, form: [String: String]? = nil, json: [String: Any]? = nil,
        headers: [String: String] = [:]
    ) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: baseURL.appendingPathComponent(String(path.dropFirst())))
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let form {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                .joined(separator: "&").utf8)
        }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
        }
        let (data, answer) = try await URLSession(configuration: .ephemeral).data(for: request)
        let response = answer as! HTTPURLResponse
        return (response.statusCode, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }

    /// A loopback port that was free a moment ago.
    public static func freePort() throws -> Int {
        struct NoFreePort: Error {}
        // Below the kernel's ephemeral range, which bind(0) and every outgoing connection draw from:
        // a port handed out here and closed again cannot be taken by another socket of this
        // process before the server binds it (an ephemeral one was, now and then, and the server
        // failed with "address already in use"). Each port is handed out once per process.
        let ephemeralStart = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } } ?? 32_768
        let range = max(1_024, ephemeralStart - 12_000)..<ephemeralStart
        for _ in 0..<range.count {
            let port = nextPort.withLock { next -> Int in
                if next == nil || !range.contains(next!) { next = range.lowerBound + Int.random(in: 0..<range.count) }
                let port = next!
                next = port + 1 < range.upperBound ? port + 1 : range.lowerBound
                return port
            }
            if canBind(port) { return port }
        }
        throw NoFreePort()
    }

    private static let nextPort = Mutex<Int?>(nil)

    /// Whether a listening socket could bind 127.0.0.1:`port` now (with SO_REUSEADDR, as servers do).
    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } } == 0
    }

}


/// Waits until `condition` holds, checking every 10 ms, for at most `seconds`.
public func eventually(_ seconds: Double = 10, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return false
}
