import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TegataServer
import TegataTokens

/// Keys generated once per test run (RSA generation is slow), shared by every fake provider.
public enum ProviderKeys {
    public static let rsa1 = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    public static let rsa2 = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    public static let attackerRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    public static let ec1 = P256.Signing.PrivateKey()
    public static let ec2 = P256.Signing.PrivateKey()
}

/// A signing key of a fake provider, with its `kid`.
public enum ProviderSigningKey: Sendable {
    case rsa(_RSA.Signing.PrivateKey, kid: String)
    case ec(P256.Signing.PrivateKey, kid: String)

    public var kid: String {
        switch self {
        case .rsa(_, let kid), .ec(_, let kid): kid
        }
    }

    public var alg: String {
        switch self {
        case .rsa: "RS256"
        case .ec: "ES256"
        }
    }

    /// The public JWK, written the way the providers publish them.
    public var jwk: [String: Any] {
        switch self {
        case .rsa(let key, let kid):
            let primitives = try! key.publicKey.getKeyPrimitives()
            return ["kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": Base64URL.encode(primitives.modulus), "e": Base64URL.encode(primitives.publicExponent)]
        case .ec(let key, let kid):
            let point = key.publicKey.x963Representation
            return ["kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                    "x": Base64URL.encode(point[1..<33]), "y": Base64URL.encode(point[33..<65])]
        }
    }

    /// A compact JWS of `claims` signed with this key; `header` entries override the defaults.
    public func sign(_ claims: [String: Any], header extra: [String: Any] = [:]) -> String {
        var header: [String: Any] = ["alg": alg, "kid": kid, "typ": "JWT"]
        header.merge(extra) { $1 }
        let input = JOSE.segment(header) + "." + JOSE.segment(claims)
        let signature: Data
        switch self {
        case .rsa(let key, _):
            signature = try! key.signature(for: SHA256.hash(data: Data(input.utf8)), padding: .insecurePKCS1v1_5).rawRepresentation
        case .ec(let key, _):
            signature = try! key.signature(for: Data(input.utf8)).rawRepresentation
        }
        return input + "." + Base64URL.encode(signature)
    }
}

/// Building JOSE pieces by hand, so tests can also build what no library would.
public enum JOSE {
    public static func segment(_ object: [String: Any]) -> String {
        Base64URL.encode(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// An HMAC-SHA256 "signed" token: the algorithm-confusion attack when `secret` is a public key.
    public static func hs256(_ claims: [String: Any], secret: Data, kid: String) -> String {
        let input = segment(["alg": "HS256", "kid": kid, "typ": "JWT"]) + "." + segment(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: secret))
        return input + "." + Base64URL.encode(Data(mac))
    }

    /// An unsigned token (`alg: none`).
    public static func unsigned(_ claims: [String: Any], kid: String) -> String {
        segment(["alg": "none", "kid": kid]) + "." + segment(claims) + "."
    }
}

/// An identity provider on a real socket in the test process: it serves a JWKS (and an OpenID
/// discovery document), counts the fetches, and can rotate its keys, change its `Cache-Control` or go down.
public final class FakeProvider: Sendable {
    private struct State {
        var published: [ProviderSigningKey]
        var cacheControl = "public, max-age=3600"
        var down = false
        var jwksFetches = 0
        var discoveryFetches = 0
    }

    private let state: Mutex<State>
    private let boundPort = Mutex(0)
    public var port: Int { boundPort.withLock { $0 } }

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var jwksURL: String { baseURL + "/keys" }
    public var discoveryURL: String { baseURL + "/.well-known/openid-configuration" }

    private init(keys: [ProviderSigningKey]) {
        state = Mutex(State(published: keys))
    }

    public var jwksFetches: Int { state.withLock { $0.jwksFetches } }
    public var discoveryFetches: Int { state.withLock { $0.discoveryFetches } }
    public func publish(_ keys: [ProviderSigningKey]) { state.withLock { $0.published = keys } }
    public func setDown(_ down: Bool) { state.withLock { $0.down = down } }
    public func setCacheControl(_ value: String) { state.withLock { $0.cacheControl = value } }

    private func jwksResponse() throws -> Response {
        let (down, keys, cacheControl) = state.withLock { s -> (Bool, [ProviderSigningKey], String) in
            s.jwksFetches += 1
            return (s.down, s.published, s.cacheControl)
        }
        guard !down else { return Response(status: .serviceUnavailable) }
        let body = try JSONSerialization.data(withJSONObject: ["keys": keys.map(\.jwk)])
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: cacheControl],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private func discoveryResponse() throws -> Response {
        let down = state.withLock { s -> Bool in
            s.discoveryFetches += 1
            return s.down
        }
        guard !down else { return Response(status: .serviceUnavailable) }
        let body = try JSONSerialization.data(withJSONObject: ["issuer": baseURL, "jwks_uri": jwksURL])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Runs a provider publishing `keys` for the duration of `body`.
    public static func with<T: Sendable>(
        keys: [ProviderSigningKey], _ body: @Sendable (FakeProvider) async throws -> T
    ) async throws -> T {
        let provider = FakeProvider(keys: keys)
        let router = Router()
        router.get("/keys") { _, _ in try provider.jwksResponse() }
        router.get("/.well-known/openid-configuration") { _, _ in try provider.discoveryResponse() }
        var logger = Logger(label: "fake-provider")
        logger.logLevel = .critical  // cancelling the server at the end logs errors that mean nothing here
        return try await withRunningApplication({ onServerRunning in
            Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in
                    let bound = channel.localAddress?.port ?? 0
                    provider.boundPort.withLock { $0 = bound }
                    await onServerRunning(bound)
                },
                logger: logger)
        }) { _ in try await body(provider) }
    }
}

/// Claims shaped like each provider's real ID tokens (from their documentation), at `now`.
public enum ProviderClaims {
    /// Sign in with Apple (https://developer.apple.com/documentation/signinwithapple/authenticating-users-with-sign-in-with-apple).
    public static func apple(subject: String = "001234.0123456789abcdef0123456789abcdef.0123", audience: String = "com.example.game",
                      nonce: String?, now: Date) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": "https://appleid.apple.com", "aud": audience, "sub": subject,
            "iat": Int(now.timeIntervalSince1970), "exp": Int(now.timeIntervalSince1970) + 600,
            "email": "abc123@privaterelay.appleid.com", "email_verified": "true", "is_private_email": "true",
            "auth_time": Int(now.timeIntervalSince1970), "nonce_supported": true, "real_user_status": 2,
        ]
        if let nonce { claims["nonce"] = IDTokenVerifier.nonceDigest(nonce) }
        return claims
    }

    /// Google (https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload).
    public static func google(subject: String = "110169484474386276334", audience: String = "1234.apps.googleusercontent.com",
                       issuer: String = "https://accounts.google.com", nonce: String? = nil, now: Date) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": issuer, "azp": audience, "aud": audience, "sub": subject, "email": "jsmith@example.com",
            "email_verified": true, "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "name": "J Smith",
            "iat": Int(now.timeIntervalSince1970), "exp": Int(now.timeIntervalSince1970) + 3600,
        ]
        if let nonce { claims["nonce"] = IDTokenVerifier.nonceDigest(nonce) }
        return claims
    }

    /// `claims` with a fresh `jti`: a distinct token each time it is signed (an ID token is
    /// exchanged once only).
    public static func fresh(_ claims: [String: Any]) -> [String: Any] {
        var claims = claims
        claims["jti"] = UUID().uuidString
        return claims
    }

    /// LINE (https://developers.line.biz/en/docs/line-login/verify-id-token/#payload).
    public static func line(subject: String = "U1234567890abcdef1234567890abcdef", audience: String = "1234567890",
                     now: Date) -> [String: Any] {
        ["iss": "https://access.line.me", "sub": subject, "aud": audience,
         "exp": Int(now.timeIntervalSince1970) + 3600, "iat": Int(now.timeIntervalSince1970),
         "amr": ["linesso"], "name": "Taro Line", "picture": "https://sample_line.me/aBcdefg123456"]
    }
}
