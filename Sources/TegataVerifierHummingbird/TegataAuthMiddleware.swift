import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TegataTokens
import TegataVerifier
import TegataWire

/// A request context that can carry the claims of a verified Tegata access token.
public protocol TegataAuthRequestContext: RequestContext {
    /// The verified claims; set by `TegataAuthMiddleware` before the route runs.
    var tegataClaims: AccessTokenClaims? { get set }
}

extension TegataAuthRequestContext {
    /// The verified claims, or a 401 when the route is reached without them (a route registered
    /// outside the middleware's group).
    public func requireTegataClaims() throws -> AccessTokenClaims {
        guard let claims = tegataClaims else { throw HTTPError(.unauthorized) }
        return claims
    }
}

/// Requires a valid Tegata access token on every request it guards and puts its claims in the
/// context. Answers as RFC 6750 §3 says:
/// - no `Authorization: Bearer` token: 401 with `WWW-Authenticate: Bearer realm="<realm>"`;
/// - an invalid, expired or revoked token: 401 with `WWW-Authenticate: Bearer realm="<realm>",
///   error="invalid_token"`;
/// - the verifier cannot decide (no keys, revocation status unknown when failing closed): 503.
///
/// The body is Tegata's error shape, `{"error": "invalid_token", "error_description": "…"}`.
public struct TegataAuthMiddleware<Context: TegataAuthRequestContext>: RouterMiddleware {
    private let verifier: TegataVerifier
    private let realm: String

    /// A middleware checking tokens with `verifier`.
    public init(verifier: TegataVerifier, realm: String = "api") {
        self.verifier = verifier
        self.realm = realm.replacingOccurrences(of: "\"", with: "")
    }

    /// Verifies the bearer token, then calls the next handler with the claims in the context.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = Self.bearerToken(request.headers[.authorization]) else {
            return Self.refusal(.unauthorized, challenge: "Bearer realm=\"\(realm)\"", code: .invalidToken,
                                description: "an access token is required")
        }
        let claims: AccessTokenClaims
        do {
            claims = try await verifier.verify(token)
        } catch {
            guard error.isClientError else {
                return Self.refusal(.serviceUnavailable, challenge: nil, code: .serverError,
                                    description: "the token cannot be checked right now")
            }
            return Self.refusal(.unauthorized, challenge: "Bearer realm=\"\(realm)\", error=\"invalid_token\"",
                                code: .invalidToken, description: error.code == .revoked ? "the token was revoked" : "the token is not valid")
        }
        var context = context
        context.tegataClaims = claims
        return try await next(request, context)
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
    static func bearerToken(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// An answer in Tegata's error format (the shared `ErrorBody`, encoded as the server encodes it).
    private static func refusal(_ status: HTTPResponse.Status, challenge: String?, code: OAuthErrorCode, description: String) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let challenge { headers[.wwwAuthenticate] = challenge }
        let body = (try? WireCoding.makeEncoder().encode(ErrorBody(error: code, errorDescription: description))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
