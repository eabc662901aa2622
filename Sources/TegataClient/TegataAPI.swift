import Foundation
import TegataWire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Tegata's endpoints as the client calls them, and how their answers are classified.
struct TegataAPI: Sendable {
    let baseURL: URL
    let transport: any TegataTransport
    let timeout: TimeInterval
    let now: @Sendable () -> Date
    /// Makes DPoP proofs when the client has a key.
    let dpop: DPoPProver

    /// A response with a 2xx status, and when it arrived (local clock).
    struct Reply: Sendable {
        let data: Data
        let response: HTTPURLResponse
        let receivedAt: Date

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try WireCoding.makeDecoder().decode(T.self, from: data)
            } catch {
                throw TegataClientError.invalidResponse("the server's \(T.self) could not be decoded", status: response.statusCode)
            }
        }
    }

    /// What came of one request.
    enum Outcome: Sendable {
        /// A 2xx answer.
        case success(Reply)
        /// A definite refusal (a 4xx other than 408 and 429): retrying the same request cannot help.
        case rejected(TegataClientError)
        /// No answer, a 5xx, a 408 or a 429: the same request may succeed later (`retryAfter` from
        /// the `Retry-After` header, in seconds, when there was one).
        case transient(TegataClientError, retryAfter: TimeInterval?)
    }

    // MARK: Endpoints

    func deviceSignIn(_ device: DeviceCredentials, platform: String) async -> Outcome {
        let body = DeviceSignInRequest(deviceID: device.id, deviceSecret: device.secret, platform: platform)
        return await send(json("POST", "/v1/auth/device", body), withProof: true)
    }

    func claimDevice(_ device: DeviceCredentials, userID: String, platform: String) async -> Outcome {
        let body = DeviceClaimRequest(deviceID: device.id, deviceSecret: device.secret, platform: platform, userID: userID)
        return await send(json("POST", "/v1/auth/device/claim", body), withProof: true)
    }

    func refresh(_ refreshToken: String) async -> Outcome {
        await send(form("/oauth/token", ["grant_type": "refresh_token", "refresh_token": refreshToken]), withProof: true)
    }

    func exchange(_ presentation: IDTokenPresentation) async -> Outcome {
        await send(form("/oauth/token", presentation.parameters(grantType: "urn:ietf:params:oauth:grant-type:token-exchange")), withProof: true)
    }

    func revoke(_ refreshToken: String) async -> Outcome {
        await send(form("/oauth/revoke", ["token": refreshToken, "token_type_hint": "refresh_token"]), withProof: true)
    }

    // MARK: Requests

    func request(_ method: String, _ path: String) -> URLRequest {
        var request = URLRequest(url: baseURL.appendingPathComponent(String(path.dropFirst())))
        request.httpMethod = method
        request.timeoutInterval = timeout
        request.cachePolicy = .reloadIgnoringLocalCacheData
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        return request
    }

    func json(_ method: String, _ path: String, _ body: some Encodable) -> URLRequest {
        var request = request(method, path)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try? WireCoding.makeEncoder().encode(body)
        return request
    }

    func form(_ path: String, _ parameters: [String: String]) -> URLRequest {
        var request = request("POST", path)
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(FormEncoding.encode(parameters).utf8)
        return request
    }

    /// `request` with `Authorization: Bearer <token>`, or — for a token bound to the client's DPoP
    /// key (`cnf` in its claims) — `Authorization: DPoP <token>`, whose proof ``transmit(_:withProof:)`` adds.
    func authorize(_ request: URLRequest, with token: String) -> URLRequest {
        var request = request
        let bound = dpop.hasKey && TokenTiming.claims(of: token)?["cnf"] != nil
        request.setValue("\(bound ? "DPoP" : "Bearer") \(token)", forHTTPHeaderField: "Authorization")
        return request
    }

    /// Sends `request` through the transport with a new DPoP proof when it carries a DPoP-bound
    /// token or `withProof` (a token request) and the client has a key; an answer that asks for a
    /// nonce (`use_dpop_nonce`) gets the request once more with a proof carrying it. Throws only
    /// when no response came.
    func transmit(_ request: URLRequest, withProof: Bool = false) async throws -> (Data, HTTPURLResponse) {
        let authorization = request.value(forHTTPHeaderField: "Authorization")
        let boundToken = authorization.flatMap { $0.hasPrefix("DPoP ") ? String($0.dropFirst(5)) : nil }
        guard withProof || boundToken != nil, dpop.hasKey else { return try await transport.send(request) }
        var request = request
        request.setValue(dpop.proof(for: request, accessToken: boundToken), forHTTPHeaderField: "DPoP")
        let first = try await transport.send(request)
        guard dpop.record(first.1, data: first.0, for: request.url) else { return first }
        request.setValue(dpop.proof(for: request, accessToken: boundToken), forHTTPHeaderField: "DPoP")
        let second = try await transport.send(request)
        dpop.record(second.1, data: second.0, for: request.url)
        return second
    }

    /// Sends a request and classifies the answer. Never throws: every failure is an outcome.
    func send(_ request: URLRequest, withProof: Bool = false) async -> Outcome {
        let data: Data
        let response: HTTPURLResponse
        do {
            (data, response) = try await transmit(request, withProof: withProof)
        } catch let error as TegataClientError {
            return .transient(error, retryAfter: nil)
        } catch {
            return .transient(.unavailable("the server could not be reached (\(type(of: error)))"), retryAfter: nil)
        }
        return Self.classify(data: data, response: response, receivedAt: now())
    }

    static func classify(data: Data, response: HTTPURLResponse, receivedAt: Date) -> Outcome {
        let status = response.statusCode
        let body = try? WireCoding.makeDecoder().decode(ErrorBody.self, from: data)
        switch status {
        case 200..<300:
            return .success(Reply(data: data, response: response, receivedAt: receivedAt))
        case 408, 429, 500...:
            let retryAfter = response.value(forHTTPHeaderField: "Retry-After").flatMap(TimeInterval.init)
            return .transient(.unavailable("the server answered \(status)", status: status, body: body), retryAfter: retryAfter)
        default:
            return .rejected(.rejected(status: status, body: body))
        }
    }
}

/// An external provider's ID token as the token exchange and identity linking take it.
struct IDTokenPresentation: Sendable {
    let idToken: String
    let provider: String
    let nonce: String?

    func parameters(grantType: String?) -> [String: String] {
        var parameters = [
            "subject_token": idToken,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "provider": provider,
        ]
        if let grantType { parameters["grant_type"] = grantType }
        if let nonce { parameters["nonce"] = nonce }
        return parameters
    }
}

/// `application/x-www-form-urlencoded` as the WHATWG URL standard defines it.
enum FormEncoding {
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._*")

    static func encode(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }
            .map { "\(escape($0.key))=\(escape($0.value))" }
            .joined(separator: "&")
    }

    private static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }
}
