import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import TegataCore
import TegataWire

/// Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is `whsec_` and the
/// base64 of the key; a message is signed as `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
/// sent with `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`.
public enum StandardWebhookSignature {
    /// The key of a `whsec_…` secret; nil for anything else, or a key under 24 bytes.
    public static func key(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.dropFirst(6))), data.count >= 24 else { return nil }
        return Array(data)
    }

    /// The `webhook-signature` value of a message.
    public static func signature(key: [UInt8], id: String, timestamp: Int64, body: Data) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// The sign-in claims hook as an HTTP call: a POST of the sign-in as JSON, signed as Standard
/// Webhooks specifies, answered by `200` with `{"claims": {…}}` within the timeout. Anything else
/// — another status, another body, a redirect, a slow or refused connection — is a failure. It
/// owns its HTTP client: run it as a service, which shuts the client down at the end.
public final class HTTPClaimsHook: SignInClaimsSource, Service {
    let settings: ClaimsHookSettings
    let client: HTTPClient
    let clock: any TegataClock
    let logger: Logger

    /// The body Tegata sends.
    struct Payload: Encodable {
        /// `sign_in`, or `identity_linked` for a link to a signed-in user.
        let type: String
        let user: UserSummary
        let newUser: Bool
        let method: String
        let sessionID: String
        let identity: Identity?
        let providerClaims: [String: JSONValue]
        let appClaims: [String: JSONValue]

        struct Identity: Encodable {
            let provider: String
            let subject: String
        }

        enum CodingKeys: String, CodingKey {
            case type, user, method, identity
            case newUser = "new_user", sessionID = "session_id", providerClaims = "provider_claims", appClaims = "app_claims"
        }
    }

    /// The answer it takes.
    struct Answer: Decodable {
        let claims: [String: JSONValue]
    }

    /// Why a call failed, for the log (never a claim value or the secret).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Creates the hook.
    public init(settings: ClaimsHookSettings, clock: any TegataClock, logger: Logger) {
        self.settings = settings
        self.clock = clock
        self.logger = logger
        client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .milliseconds(Int64(settings.timeout * 1000)), read: .milliseconds(Int64(settings.timeout * 1000)))))
    }

    public func claims(for request: SignInHookRequest) async throws -> [String: JSONValue] {
        let body = try WireCoding.makeEncoder().encode(Payload(
            type: request.link ? "identity_linked" : "sign_in", user: request.user.summary, newUser: request.newUser, method: request.method, sessionID: request.sessionID,
            identity: request.identity.map { Payload.Identity(provider: $0.provider, subject: $0.subject) },
            providerClaims: request.providerClaims, appClaims: request.appClaims))
        let id = "msg_" + RandomID.uuid()
        let timestamp = Int64(clock.now().timeIntervalSince1970.rounded(.down))
        var http = HTTPClientRequest(url: settings.url.absoluteString)
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "User-Agent", value: "tegata")
        http.headers.add(name: "webhook-id", value: id)
        http.headers.add(name: "webhook-timestamp", value: String(timestamp))
        http.headers.add(name: "webhook-signature", value: StandardWebhookSignature.signature(key: settings.key, id: id, timestamp: timestamp, body: body))
        http.body = .bytes(ByteBuffer(bytes: body))
        let timeout = Duration.milliseconds(Int64(settings.timeout * 1000))
        let client = client
        let request = http
        let seconds = settings.timeout
        do {
            // One deadline for the whole call, the answer's body included (a trickling answer too).
            return try await withThrowingTaskGroup(of: [String: JSONValue].self) { group in
                group.addTask {
                    let response = try await client.execute(request, timeout: .milliseconds(Int64(seconds * 1000)))
                    let answer = try await response.body.collect(upTo: 64 * 1024)
                    guard response.status == .ok else { throw Failure(description: "it answered \(response.status.code)") }
                    guard let claims = try? Request.decodeJSONBody(Answer.self, from: Data(answer.readableBytesView)).claims else {
                        throw Failure(description: "its answer is not {\"claims\": {…}}")
                    }
                    return claims
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw Failure(description: "no answer within \(seconds) s")
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else { throw Failure(description: "no answer") }
                return first
            }
        } catch {
            logger.warning("the sign-in claims hook failed", metadata: ["reason": "\(error)"])
            throw error
        }
    }

    /// Waits for shutdown, then shuts the HTTP client down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
