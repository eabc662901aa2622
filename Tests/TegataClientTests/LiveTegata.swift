import Foundation
import Hummingbird
import Logging
import TegataTestSupport
import Synchronization
import TegataClient
import TegataCore
import TegataServer
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The system clock moved by an offset the test sets: the device's clock, not the server's.
final class DeviceClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)
    func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
    var now: @Sendable () -> Date { { [self] in Date().addingTimeInterval(offset.withLock { $0 }) } }
}

/// The real URLSession transport with a request count per path, and faults a test switches on:
/// losing the answer to a request the server did handle, or holding an answer until released.
final class CountingTransport: TegataTransport {
    private struct State {
        var counts: [String: Int] = [:]
        var dropAnswers: [String: Int] = [:]
        var holds: [String: [CheckedContinuation<Void, Never>]] = [:]
        var holdPaths: Set<String> = []
    }

    private let state = Mutex(State())
    private let inner = URLSessionTransport()

    func count(_ path: String) -> Int { state.withLock { $0.counts[path] ?? 0 } }
    var total: Int { state.withLock { $0.counts.values.reduce(0, +) } }

    /// The next `times` answers to `path` are lost after the server handled the request.
    func dropAnswers(to path: String, times: Int = 1) { state.withLock { $0.dropAnswers[path] = times } }

    /// Answers to `path` are held until `release(path)`.
    func hold(_ path: String) { state.withLock { _ = $0.holdPaths.insert(path) } }
    func held(_ path: String) -> Int { state.withLock { $0.holds[path]?.count ?? 0 } }
    func release(_ path: String) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.holdPaths.remove(path)
            return state.holds.removeValue(forKey: path) ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let path = request.url?.path ?? ""
        state.withLock { $0.counts[path, default: 0] += 1 }
        let answer = try await inner.send(request)
        let drop = state.withLock { state -> Bool in
            guard let left = state.dropAnswers[path], left > 0 else { return false }
            state.dropAnswers[path] = left - 1
            return true
        }
        if drop { throw URLError(.networkConnectionLost) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wait = state.withLock { state -> Bool in
                guard state.holdPaths.contains(path) else { return false }
                state.holds[path, default: []].append(continuation)
                return true
            }
            if !wait { continuation.resume() }
        }
        return answer
    }
}

/// An in-memory store that counts how often its lock is taken.
final class CountingStorage: CredentialStorage {
    private let inner = InMemoryCredentialStorage()
    private let counter = Mutex(0)
    var locks: Int { counter.withLock { $0 } }
    func load() throws -> StoredCredentials? { try inner.load() }
    func save(_ credentials: StoredCredentials) throws { try inner.save(credentials) }
    func delete() throws { try inner.delete() }
    func lock() async throws -> any CredentialStorageLock {
        counter.withLock { $0 += 1 }
        return try await inner.lock()
    }
}

extension TegataClient {
    /// A client of `server` with test-friendly retry delays.
    static func make(
        _ server: LiveTegata, storage: any CredentialStorage = InMemoryCredentialStorage(), transport: CountingTransport = CountingTransport(),
        clock: DeviceClock = DeviceClock(), _ adjust: (inout TegataClientConfiguration) -> Void = { _ in }
    ) -> TegataClient {
        var configuration = TegataClientConfiguration(baseURL: server.baseURL, platform: "ios")
        configuration.retryDelay = .milliseconds(20)
        adjust(&configuration)
        return TegataClient(configuration: configuration, storage: storage, transport: transport, now: clock.now)
    }
}

/// The payload of a JWT, unchecked.
func claims(of token: String) -> [String: Any] {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return [:] }
    var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    guard let data = Data(base64Encoded: base64) else { return [:] }
    return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
}

/// The `sid` claim of an access token.
func sessionID(of token: String) -> String {
    claims(of: token)["sid"] as? String ?? ""
}
