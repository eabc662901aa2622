import Foundation
import HTTPTypes
import Hummingbird
import TegataCore
import TegataWire

extension HTTPField.Name {
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    /// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
    static let rateLimit = HTTPField.Name("RateLimit")!
    /// `DPoP` (RFC 9449 §4.1): the request's proof.
    static let dpop = HTTPField.Name("DPoP")!
    /// `DPoP-Nonce` (RFC 9449 §8): the nonce the server wants in proofs.
    static let dpopNonce = HTTPField.Name("DPoP-Nonce")!
}

/// The one place where errors become HTTP: status, contract JSON body and challenge headers.
enum ErrorMapping {
    /// The response for a domain error.
    static func response(for error: TegataError) -> Response {
        var headers: HTTPFields = [:]
        let status: HTTPResponse.Status
        switch error.code {
        case .invalidToken:
            status = .unauthorized
            headers[.wwwAuthenticate] = error.isMissingCredentials
                ? BearerChallenge.header(realm: "tegata")
                : BearerChallenge.header(realm: nil, error: .invalidToken, description: error.message)
            if error.isSchemeMismatch {
                // A bound token as Bearer, or an unbound one as DPoP: both schemes' challenges (RFC 9449 §7.1).
                headers.append(HTTPField(name: .wwwAuthenticate, value: DPoPChallenge.header(error: .invalidToken, description: error.message)))
            }
        case .invalidDPoPProof, .useDPoPNonce:
            if let nonce = error.dpopNonce { headers[.dpopNonce] = nonce }
            if error.isDPoPRefusalAtResource {
                status = .unauthorized
                headers[.wwwAuthenticate] = DPoPChallenge.header(error: error.code, description: error.message)
            } else {
                status = .badRequest
            }
        case .insufficientScope:
            status = .forbidden
            headers[.wwwAuthenticate] = BearerChallenge.header(realm: nil, error: .insufficientScope)
        case .invalidClient:
            status = .unauthorized
            headers[.wwwAuthenticate] = #"Basic realm="tegata""#
        case .invalidGrant:
            status = error.isWrongCredentials ? .unauthorized : .badRequest
        case .invalidRequest where error.isUnsupportedMediaType: status = .unsupportedMediaType
        case .invalidRequest where error.allowedMethods != nil:
            status = .methodNotAllowed
            headers[.allow] = error.allowedMethods!.joined(separator: ", ")
        case .invalidRequest, .unsupportedGrantType: status = .badRequest
        case .forbidden: status = .forbidden
        case .notFound: status = .notFound
        case .conflict: status = .conflict
        case .payloadTooLarge: status = .contentTooLarge
        case .rateLimited:
            status = .tooManyRequests
            let seconds = error.retryAfterSeconds ?? 1
            headers[.retryAfter] = String(seconds)
            if let policy = error.rateLimitPolicy {
                // draft-ietf-httpapi-ratelimit-headers: the policy (quota q per window w seconds)
                // and what is left of it (r, none) with the seconds until more is allowed (t).
                headers[.rateLimitPolicy] = "\"\(policy.name)\";q=\(policy.limit);w=\(Int(policy.period.rounded(.up)))"
                headers[.rateLimit] = "\"\(policy.name)\";r=0;t=\(seconds)"
            }
        default:
            if error.isUnavailable {
                // Worth retrying soon (a busy or unreachable database, a provider's keys not yet fetched).
                status = .serviceUnavailable
                headers[.retryAfter] = "1"
            } else {
                status = .internalServerError
            }
        }
        let body = ErrorBody(error: error.code, errorDescription: error.message)
        // Encoding a struct of two strings cannot fail.
        return (try? JSONResponse.make(body, status: status, headers: headers))
            ?? Response(status: .internalServerError)
    }

    /// The domain error for an error Hummingbird raised (unknown route, oversized body, …).
    static func domainError(for error: any HTTPResponseError) -> TegataError {
        switch error.status {
        case .notFound, .methodNotAllowed: .notFound("no such endpoint")
        case .contentTooLarge: .payloadTooLarge()
        case .unsupportedMediaType: .unsupportedMediaType("this endpoint does not take that media type")
        case .unauthorized: .missingToken
        case .forbidden: .forbidden("forbidden")
        case .tooManyRequests: .rateLimited(retryAfterSeconds: 1)
        case let status where (400..<500).contains(status.code): .invalidRequest("the request is malformed")
        default: .serverError
        }
    }
}
