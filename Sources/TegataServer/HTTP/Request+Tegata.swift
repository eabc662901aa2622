import Foundation
import Hummingbird
import TegataCore
import TegataWire

extension Request {
    /// Reads the body (at most `limit` bytes) and decodes it as JSON. Every failure is a 4xx:
    /// `payload_too_large` over the limit, 415 for a body that is not declared JSON (so a cross-site
    /// `text/plain` "simple request" is refused), 400 for a body that is not strict RFC 8259 JSON or
    /// repeats a member name (``StrictJSON``), and `invalid_request` naming the field for anything else.
    /// Unknown fields are ignored.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        guard let value = try await decodeOptionalJSON(type, limit: limit) else {
            throw TegataError.invalidRequest("a JSON body is required")
        }
        return value
    }

    /// Like ``decodeJSON(_:limit:)``, but an empty body gives nil.
    func decodeOptionalJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T? {
        let body = try await collectBody(limit: limit)
        guard !body.isEmpty else { return nil }
        guard BodyMediaType(of: self) == .json else {
            throw TegataError.unsupportedMediaType("the body must be JSON (Content-Type: application/json)")
        }
        return try Self.decodeJSONBody(T.self, from: body)
    }

    /// Decodes a JSON body that was declared JSON: strict RFC 8259 first, then the decoder, every
    /// failure `invalid_request` naming the field where there is one.
    package static func decodeJSONBody<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        try requireStrictJSON(body)
        do {
            return try WireCoding.makeDecoder().decode(T.self, from: body)
        } catch let error as DecodingError {
            throw TegataError.invalidRequest(Self.describe(error))
        } catch {
            throw TegataError.invalidRequest("the body is not valid JSON")
        }
    }

    /// Throws `invalid_request` unless `body` is strict RFC 8259 JSON without repeated member names.
    static func requireStrictJSON(_ body: Data) throws {
        do {
            try StrictJSON.validate(body)
        } catch {
            throw TegataError.invalidRequest("the body is not valid JSON: \(error.reason)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "missing field \(parent.isEmpty ? "" : parent + ".")\(key.stringValue)"
        case .valueNotFound(_, let context):
            return "field \(path(context.codingPath)) must not be null"
        case .typeMismatch(_, let context):
            let field = path(context.codingPath)
            return field.isEmpty ? "the body must be a JSON object" : "field \(field) has the wrong type"
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            return field.isEmpty ? "the body is not valid JSON (UTF-8)" : "field \(field) is invalid"
        @unknown default:
            return "the body is not valid JSON"
        }
    }

    /// The bearer token from the `Authorization` header (never from the query string).
    /// Throws `invalid_token` without an error attribute when there is none.
    package func bearerToken() throws -> String {
        switch BearerAuthorization(fieldValues: headers[values: .authorization]) {
        case .token(let token): return token
        case .absent: throw TegataError.missingToken
        case .repeated: throw TegataError.invalidRequest("more than one Authorization header")
        case .otherScheme, .dpop: throw TegataError.invalidToken("the Authorization header must be \"Bearer <access token>\"")
        case .malformed: throw TegataError.invalidToken("the access token is malformed")
        }
    }

    /// The access token from the `Authorization` header, `Bearer` or `DPoP`, with the request's
    /// DPoP proof (``dpopRequest(issuer:)``) for the latter.
    package func presentedAccessToken(issuer: String) throws -> PresentedAccessToken {
        switch BearerAuthorization(fieldValues: headers[values: .authorization]) {
        case .token(let token): return .bearer(token)
        case .dpop(let token): return PresentedAccessToken(token: token, scheme: .dpop, proof: try dpopRequest(issuer: issuer, atResource: true))
        case .absent: throw TegataError.missingToken
        case .repeated: throw TegataError.invalidRequest("more than one Authorization header")
        case .otherScheme:
            throw TegataError.invalidToken("the Authorization header must be \"Bearer <access token>\" or \"DPoP <access token>\"")
        case .malformed: throw TegataError.invalidToken("the access token is malformed")
        }
    }

    /// The request's `DPoP` proof (RFC 9449 §4.1) and what it must match: this method, and the URI
    /// the client called — the issuer's base URL and this path, whatever host a proxy in front
    /// forwarded to. Nil without a `DPoP` field; `invalid_dpop_proof` for more than one.
    package func dpopRequest(issuer: String, atResource: Bool = false) throws -> DPoPRequest? {
        let values = headers[values: .dpop]
        guard let proof = values.first else { return nil }
        guard values.count == 1 else { throw TegataError.invalidDPoPProof("more than one DPoP header field", atResource: atResource) }
        return DPoPRequest(proof: String(proof.trimmingASCIIWhitespace()), method: method.rawValue, url: issuer + uri.path)
    }
}
