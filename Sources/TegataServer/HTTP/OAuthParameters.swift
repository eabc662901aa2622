import Foundation
import Hummingbird
import TegataCore

/// The parameters of an OAuth endpoint request: `application/x-www-form-urlencoded` (RFC 6749) or
/// a JSON object of strings. A parameter given twice, or with a non-string JSON value, is an error
/// only when the endpoint asks for it; unknown parameters are ignored.
package struct OAuthParameters {
    private var values: [String: String] = [:]
    private var repeated: Set<String> = []
    private var mistyped: Set<String> = []

    /// Reads the body of `request` (at most `limit` bytes): a form or JSON, as its `Content-Type`
    /// says; any other declared media type, or a body with none, is 415. An empty body has no parameters.
    static func parse(_ request: Request, limit: Int) async throws -> OAuthParameters {
        let body = try await request.collectBody(limit: limit)
        guard !body.isEmpty else { return OAuthParameters() }
        switch BodyMediaType(of: request) {
        case .form: return try parseForm(body)
        case .json: return try parseJSON(body)
        case .other, .unspecified:
            throw TegataError.unsupportedMediaType(
                "the body must be application/x-www-form-urlencoded or application/json")
        }
    }

    package static func parseJSON(_ body: Data) throws -> OAuthParameters {
        guard !body.isEmpty else { return OAuthParameters() }
        try Request.requireStrictJSON(body)
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TegataError.invalidRequest("the body must be a JSON object or a form")
        }
        var parameters = OAuthParameters()
        for (key, value) in object {
            if let string = value as? String { parameters.values[key] = string } else { parameters.mistyped.insert(key) }
        }
        return parameters
    }

    package static func parseForm(_ body: Data) throws -> OAuthParameters {
        var parameters = OAuthParameters()
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            let rawValue = equals == pair.endIndex ? pair[equals...] : pair[pair.index(after: equals)...]
            guard let name = FormURLEncoding.decode(pair[..<equals]), let value = FormURLEncoding.decode(rawValue) else {
                throw TegataError.invalidRequest("the form is not valid x-www-form-urlencoded UTF-8")
            }
            if parameters.values[name] != nil { parameters.repeated.insert(name) }
            parameters.values[name] = value
        }
        return parameters
    }

    /// The parameter's value, or nil when absent or empty.
    package func optional(_ name: String) throws -> String? {
        guard !repeated.contains(name) else { throw TegataError.invalidRequest("parameter \(name) is repeated") }
        guard !mistyped.contains(name) else { throw TegataError.invalidRequest("parameter \(name) must be a string") }
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// The parameter's value; `invalid_request` naming it when absent.
    package func required(_ name: String) throws -> String {
        guard let value = try optional(name) else { throw TegataError.invalidRequest("missing parameter \(name)") }
        return value
    }
}

extension OAuthParameters {
    /// The parameters of a token exchange or identity link: `subject_token`, `subject_token_type`,
    /// `provider` and the optional raw `nonce`.
    func idTokenPresentation() throws -> IDTokenPresentation {
        IDTokenPresentation(
            subjectToken: try required("subject_token"), subjectTokenType: try required("subject_token_type"),
            provider: try required("provider"), nonce: try optional("nonce"))
    }
}

extension Request {
    /// The whole body, at most `limit` bytes (`payload_too_large` beyond).
    func collectBody(limit: Int) async throws -> Data {
        if let declared = headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw TegataError.payloadTooLarge(limit: limit)
        }
        do {
            return Data(try await body.collect(upTo: limit).readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw TegataError.payloadTooLarge(limit: limit)
        }
    }

    /// The client id and secret of an HTTP Basic `Authorization` header (RFC 6749 §2.3.1: each
    /// form-urlencoded before base64). Throws `invalid_client` when missing or malformed.
    package func basicCredentials() throws -> (id: String, secret: String) {
        guard let value = headers[.authorization] else { throw TegataError.invalidClient("client authentication is required") }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
              let id = FormURLEncoding.decode(text.utf8[..<colon]),
              let secret = FormURLEncoding.decode(text.utf8[text.index(after: colon)...])
        else { throw TegataError.invalidClient("client authentication must be HTTP Basic") }
        return (id, secret)
    }

    /// Authenticates a resource-server client (introspection, the revocation feed, the device check)
    /// by HTTP Basic and returns its id. Throws `invalid_client` otherwise.
    func authenticateResourceServer(_ clients: ResourceServerClients) throws -> String {
        let (id, secret) = try basicCredentials()
        guard clients.authenticate(id: id, secret: secret) else {
            throw TegataError.invalidClient("client authentication failed")
        }
        return id
    }
}
