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

/// A request let through on legacy `device-id` + `user-id` headers by the migration adapter.
public struct LegacyDevice: Sendable, Equatable {
    /// The user the headers named (the device is registered to it in Tegata).
    public let userID: String
    /// The device the headers named.
    public let deviceID: String

    /// Creates the value.
    public init(userID: String, deviceID: String) {
        self.userID = userID
        self.deviceID = deviceID
    }
}

/// A request context for APIs that still accept legacy device headers while their clients migrate
/// (see `TegataAuthMiddleware.init(verifier:realm:legacyHeaders:deviceIDHeader:userIDHeader:)`).
public protocol TegataLegacyAuthRequestContext: TegataAuthRequestContext {
    /// Set instead of `tegataClaims` when the request came in on legacy headers.
    var tegataLegacyDevice: LegacyDevice? { get set }
}

extension TegataLegacyAuthRequestContext {
    /// The user of the request: the token's `sub`, or the user of accepted legacy headers; a 401
    /// when neither is there.
    public func requireTegataUserID() throws -> String {
        if let claims = tegataClaims { return claims.sub }
        if let device = tegataLegacyDevice { return device.userID }
        throw HTTPError(.unauthorized)
    }
}

/// Requires a valid Tegata access token on every request it guards and puts its claims in the
/// context. Answers as RFC 6750 §3 says:
/// - no `Authorization: Bearer` token: 401 with `WWW-Authenticate: Bearer realm="<realm>"`;
/// - an invalid, expired or revoked token: 401 with `WWW-Authenticate: Bearer realm="<realm>",
///   error="invalid_token"`;
/// - more than one `Authorization` field: 400 `invalid_request`;
/// - the verifier cannot decide (no keys, revocation status unknown when failing closed): 503.
///
/// DPoP-bound tokens (RFC 9449) are refused as bearer tokens. With `publicBaseURL`, the middleware
/// also takes `Authorization: DPoP <token>` with a proof in the `DPoP` field, made for this method
/// and `publicBaseURL` + the request's path; a refused proof answers 401 with
/// `WWW-Authenticate: DPoP error="invalid_dpop_proof"`.
///
/// The body is Tegata's error shape, `{"error": "invalid_token", "error_description": "…"}`. The
/// header is read and the challenge written exactly as the Tegata server does (`BearerAuthorization`,
/// `BearerChallenge` in TegataWire).
public struct TegataAuthMiddleware<Context: TegataAuthRequestContext>: RouterMiddleware {
    private struct Legacy: Sendable {
        let check: LegacyDeviceCheck
        let deviceIDHeader: HTTPField.Name
        let userIDHeader: HTTPField.Name
        let assign: @Sendable (inout Context, LegacyDevice) -> Void
    }

    private let verifier: TegataVerifier
    private let realm: String
    private let legacy: Legacy?
    private let publicBaseURL: String?

    /// A middleware checking tokens with `verifier`. With `publicBaseURL` (the scheme, host and
    /// any path prefix clients call this API at, e.g. `https://api.example.com`), DPoP-bound
    /// tokens are accepted with their proofs; without it, only bearer tokens.
    public init(verifier: TegataVerifier, realm: String = "api", publicBaseURL: String? = nil) {
        self.init(verifier: verifier, realm: realm, publicBaseURL: publicBaseURL, legacy: nil)
    }

    private init(verifier: TegataVerifier, realm: String, publicBaseURL: String?, legacy: Legacy?) {
        self.verifier = verifier
        self.realm = realm
        self.legacy = legacy
        self.publicBaseURL = publicBaseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// Verifies the bearer token, then calls the next handler with the claims in the context.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token: String
        switch BearerAuthorization(fieldValues: request.headers[values: .authorization]) {
        case .token(let value):
            token = value
        case .dpop(let value):
            return try await handleDPoP(value, request: request, context: context, next: next)
        case .absent, .otherScheme:
            if let legacy, let deviceID = request.headers[legacy.deviceIDHeader], let userID = request.headers[legacy.userIDHeader] {
                return try await handleLegacy(legacy, deviceID: deviceID, userID: userID, request: request, context: context, next: next)
            }
            return Self.refusal(.unauthorized, challenge: BearerChallenge.header(realm: realm), code: .invalidToken,
                                description: "an access token is required")
        case .malformed:
            return Self.refusal(.unauthorized, challenge: BearerChallenge.header(realm: realm, error: .invalidToken),
                                code: .invalidToken, description: "the token is not valid")
        case .repeated:
            return Self.refusal(.badRequest, challenge: BearerChallenge.header(realm: realm, error: .invalidRequest),
                                code: .invalidRequest, description: "more than one Authorization header")
        }
        let claims: AccessTokenClaims
        do {
            claims = try await verifier.verify(token)
        } catch {
            guard error.isClientError else {
                return Self.refusal(.serviceUnavailable, challenge: nil, code: .serverError,
                                    description: "the token cannot be checked right now")
            }
            let description = switch error.reason {
            case _ where error.code == .revoked: "the token was revoked"
            case .dpopBound?: AccessTokenError.dpopBound.description
            default: "the token is not valid"
            }
            return Self.refusal(.unauthorized, challenge: BearerChallenge.header(realm: realm, error: .invalidToken),
                                code: .invalidToken, description: description)
        }
        var context = context
        context.tegataClaims = claims
        return try await next(request, context)
    }

    /// `Authorization: DPoP`: the token with the request's proof, when DPoP is accepted here.
    private func handleDPoP(
        _ token: String, request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let publicBaseURL else {
            return Self.refusal(.unauthorized, challenge: BearerChallenge.header(realm: realm, error: .invalidToken),
                                code: .invalidToken, description: "this API does not accept DPoP-bound tokens")
        }
        let proofs = request.headers[values: .dpop]
        guard proofs.count <= 1 else {
            return Self.refusal(.unauthorized, challenge: DPoPChallenge.header(error: .invalidDPoPProof),
                                code: .invalidDPoPProof, description: "more than one DPoP header field")
        }
        let claims: AccessTokenClaims
        do {
            claims = try await verifier.verify(
                token, dpopProof: proofs.first, method: request.method.rawValue, url: publicBaseURL + request.uri.path)
        } catch {
            guard error.isClientError else {
                return Self.refusal(.serviceUnavailable, challenge: nil, code: .serverError,
                                    description: "the token cannot be checked right now")
            }
            if error.code == .invalidDPoPProof {
                let description = error.dpopReason ?? "the DPoP proof is not valid"
                return Self.refusal(.unauthorized, challenge: DPoPChallenge.header(error: .invalidDPoPProof, description: description),
                                    code: .invalidDPoPProof, description: description)
            }
            let description = switch error.reason {
            case _ where error.code == .revoked: "the token was revoked"
            case .notDPoPBound?: AccessTokenError.notDPoPBound.description
            default: "the token is not valid"
            }
            return Self.refusal(.unauthorized, challenge: DPoPChallenge.header(error: .invalidToken, description: description),
                                code: .invalidToken, description: description)
        }
        var context = context
        context.tegataClaims = claims
        return try await next(request, context)
    }

    /// No bearer token, but both legacy headers: through if the device is registered to the user.
    private func handleLegacy(
        _ legacy: Legacy, deviceID: String, userID: String, request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let registered: Bool
        do {
            registered = try await legacy.check.isRegistered(deviceID: deviceID, userID: userID)
        } catch {
            return Self.refusal(.serviceUnavailable, challenge: nil, code: .serverError,
                                description: "the device cannot be checked right now")
        }
        guard registered else {
            return Self.refusal(.unauthorized, challenge: BearerChallenge.header(realm: realm), code: .invalidToken,
                                description: "an access token is required (the legacy device headers were not accepted)")
        }
        var context = context
        legacy.assign(&context, LegacyDevice(userID: userID, deviceID: deviceID))
        return try await next(request, context)
    }

    /// An answer in Tegata's error format (the shared `ErrorBody`, encoded as the server encodes it).
    private static func refusal(_ status: HTTPResponse.Status, challenge: String?, code: OAuthErrorCode, description: String) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let challenge { headers[.wwwAuthenticate] = challenge }
        let body = ErrorBody(error: code, errorDescription: description).jsonBytes
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension TegataAuthMiddleware where Context: TegataLegacyAuthRequestContext {
    /// A middleware checking tokens with `verifier` that, while clients migrate, also lets through a
    /// request with no bearer token whose `device-id` and `user-id` headers name a device registered
    /// to that user in Tegata (`legacyHeaders` asks Tegata and caches the answer briefly). Such a
    /// request has `tegataLegacyDevice` set instead of `tegataClaims`. Temporary and weaker than
    /// tokens: see docs/verifier.md.
    public init(
        verifier: TegataVerifier, realm: String = "api", legacyHeaders: LegacyDeviceCheck,
        deviceIDHeader: String = "device-id", userIDHeader: String = "user-id"
    ) {
        guard let device = HTTPField.Name(deviceIDHeader), let user = HTTPField.Name(userIDHeader) else {
            preconditionFailure("legacy header names must be valid HTTP field names")
        }
        self.init(
            verifier: verifier, realm: realm, publicBaseURL: nil,
            legacy: Legacy(check: legacyHeaders, deviceIDHeader: device, userIDHeader: user) { context, device in
                context.tegataLegacyDevice = device
            })
    }
}

extension HTTPField.Name {
    /// `DPoP` (RFC 9449 §4.1).
    fileprivate static let dpop = HTTPField.Name("DPoP")!
}
