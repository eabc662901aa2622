import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import TegataCore
import TegataServer
import TegataTokens
import TegataWire
import Testing

/// Collects every log line (message and metadata) so tests can prove no secret is ever logged.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    func logger() -> Logger {
        var logger = Logger(label: "tegata-test") { _ in CapturingHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(merged.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
        }
    }
}

/// A fresh data directory, a manual clock and a capturing logger for one test.
struct Harness {
    let directory: String
    let clock: ManualClock
    let logs = LogCapture()
    var configuration: TegataConfiguration

    init(_ adjust: (inout TegataConfiguration) -> Void = { _ in }) {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-test-\(UUID().uuidString)").path
        clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        configuration = TegataConfiguration(dataDirectory: directory)
        configuration.issuer = "http://127.0.0.1:8080"
        configuration.audience = configuration.issuer
        configuration.auditLog = .off  // the audit tests choose a file
        adjust(&configuration)
    }

    func services() async throws -> TegataServices {
        try await TegataServices.make(configuration: configuration, clock: clock, logger: logs.logger())
    }

    /// Runs `body` against the application in process (through the router).
    func withApp<T: Sendable>(_ setup: TestingSetup = .router, _ body: @Sendable (any TestClientProtocol, TegataServices) async throws -> T) async throws -> T {
        let services = try await services()
        let app = buildApplication(services: services)
        return try await app.test(setup) { client in try await body(client, services) }
    }


    /// Opens the harness's store through the one store factory (whatever database the
    /// configuration names) for `body`: tests look at stored state through the store's protocol,
    /// never through the database file.
    func withStore<T: Sendable>(_ body: (any TegataStore) async throws -> T) async throws -> T {
        var logger = Logger(label: "tegata-test-store")
        logger.logLevel = .critical
        let store = try await StoreFactory.open(configuration, logger: logger)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }
}

let validSecret = "0123456789abcdef0123456789abcdef-secret"

func json(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

func deviceBody(_ id: String = "device-0001", secret: String = validSecret, platform: String = "ios") -> ByteBuffer {
    json(["device_id": id, "device_secret": secret, "platform": platform])
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try WireCoding.makeDecoder().decode(T.self, from: Data(text.utf8))
    }

    var errorBody: ErrorBody? { try? decode(ErrorBody.self) }
}

extension TestClientProtocol {
    func signIn(_ id: String = "device-0001", secret: String = validSecret) async throws -> TokenResponse {
        try await execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody(id, secret: secret)) {
            #expect($0.status == .created || $0.status == .ok, "\($0.text)")
            return try $0.decode(TokenResponse.self)
        }
    }

    func me(_ token: String) async throws -> TestResponse {
        try await execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"])
    }
}

/// Checks an ES256 JWS against a JWKS document with nothing but swift-crypto and JSONSerialization:
/// independent of Tegata's own token code (not of swift-crypto, which Tegata signs with too; the
/// PyJWT test covers a different implementation).
func independentlyVerify(_ token: String, jwksJSON: Data) throws -> [String: Any] {
    func b64url(_ s: Substring) -> Data? {
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }
    struct Failure: Error { let why: String }
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, let headerData = b64url(parts[0]), let payloadData = b64url(parts[1]), let sig = b64url(parts[2]),
          let header = try JSONSerialization.jsonObject(with: headerData) as? [String: Any],
          let jwks = try JSONSerialization.jsonObject(with: jwksJSON) as? [String: Any],
          let keys = jwks["keys"] as? [[String: Any]]
    else { throw Failure(why: "not a JWS or not a JWKS") }
    guard header["alg"] as? String == "ES256" else { throw Failure(why: "alg") }
    guard let jwk = keys.first(where: { $0["kid"] as? String == header["kid"] as? String }),
          jwk["kty"] as? String == "EC", jwk["crv"] as? String == "P-256",
          let x = (jwk["x"] as? String).flatMap({ b64url(Substring($0)) }), let y = (jwk["y"] as? String).flatMap({ b64url(Substring($0)) })
    else { throw Failure(why: "no matching key") }
    let key = try P256.Signing.PublicKey(x963Representation: Data([4]) + x + y)
    let signature = try P256.Signing.ECDSASignature(rawRepresentation: sig)
    guard key.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)) else { throw Failure(why: "signature") }
    guard var claims = try JSONSerialization.jsonObject(with: payloadData) as? [String: Any] else { throw Failure(why: "payload") }
    claims["__header"] = header
    return claims
}
