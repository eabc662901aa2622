import Crypto
import Foundation
import TegataWire

/// The signing keys of this server: one signs, all are published and verify. ES256 compact JWS
/// (RFC 7515) built directly on swift-crypto's P-256; verification is ``VerificationKeys``'s, with
/// Tegata's header rules enforced before any signature is checked. Immutable, so signing and
/// verifying need no hop to an actor: they are on every request's path.
public final class KeyRing: Sendable {
    /// The only algorithm Tegata signs and accepts for its own tokens.
    public static let algorithm = "ES256"
    /// The `typ` header of access tokens (RFC 9068 §2.1).
    public static let accessTokenType = "at+jwt"

    private let signingKey: P256.Signing.PrivateKey
    private let signingKeyID: KeyID
    /// base64url of the signing key's header and the "." after it: the same for every token.
    private let headerPrefix: String
    /// Every key of the ring, for verification.
    public let verificationKeys: VerificationKeys
    /// The JWKS, signing key first.
    public let jwks: JWKSDocument

    /// Creates a ring that signs with `signing` and also publishes and accepts `others`.
    public init(signing: SigningKey, others: [SigningKey] = []) throws {
        signingKey = signing.privateKey
        signingKeyID = signing.id
        var keys: [String: P256.Signing.PublicKey] = [:]
        var published: [PublicJWK] = []
        for key in [signing] + others where keys[key.id.rawValue] == nil {
            keys[key.id.rawValue] = key.privateKey.publicKey
            published.append(key.publicJWK)
        }
        verificationKeys = VerificationKeys(keys)
        jwks = JWKSDocument(keys: [published[0]] + published.dropFirst().sorted { $0.kid < $1.kid })
        headerPrefix = Self.accessTokenHeaderSegment(kid: signing.id.rawValue) + "."
    }

    /// The base64url header of access tokens signed by key `kid`: `{"alg":"ES256","kid":…,"typ":"at+jwt"}`,
    /// always these bytes (a key id is a base64url thumbprint, so it needs no escaping). Verifiers
    /// recognise it without decoding JSON.
    public static func accessTokenHeaderSegment(kid: String) -> String {
        Base64URL.encode(Array(#"{"alg":"\#(algorithm)","kid":"\#(kid)","typ":"\#(accessTokenType)"}"#.utf8))
    }

    /// The id of the key that signs new tokens.
    public var currentKeyID: KeyID { signingKeyID }

    /// Signs access-token claims with the current key, header `{"alg":"ES256","kid":…,"typ":"at+jwt"}`.
    public func sign(_ claims: AccessTokenClaims) throws -> String {
        var token = headerPrefix + Base64URL.encode(claims.jsonBytes)
        // swift-crypto hashes with SHA-256; the raw form is JOSE's R ‖ S (RFC 7518 §3.4).
        let signature = try signingKey.signature(for: Data(token.utf8))
        token += "." + Base64URL.encode(signature.rawRepresentation)
        return token
    }

    /// Signs any other JWT payload with the current key, header `{"alg":"ES256","kid":…,"typ":"JWT"}`
    /// (tokens for other services, such as Centrifugo's). Its `typ` is not `at+jwt`, so Tegata and its
    /// verifier never take such a token for an access token.
    public func signJWT(payload: [UInt8]) throws -> String {
        struct Header: Encodable {
            let alg: String
            let kid: String
            let typ: String
        }
        let header = try JSONEncoder().encode(Header(alg: Self.algorithm, kid: signingKeyID.rawValue, typ: "JWT"))
        var token = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        token += "." + Base64URL.encode(try signingKey.signature(for: Data(token.utf8)).rawRepresentation)
        return token
    }

    /// Verifies an access token's header and signature against every key of the ring and decodes its
    /// claims (see ``VerificationKeys``). The caller still validates the claims at its own `now`.
    public func verifySignature(_ token: String) throws(AccessTokenError) -> AccessTokenClaims {
        try verificationKeys.verifySignature(token)
    }
}
