import Crypto
import Foundation
import TegataWire

/// The signing keys of this server: one signs, all are published and verify. ES256 compact JWS
/// (RFC 7515) built directly on swift-crypto's P-256, with Tegata's rules enforced before any
/// signature is checked: `alg` must be ES256, `typ` must be `at+jwt`, `kid` must name a published key
/// (there is no default key), and `crit` is refused. Immutable, so signing and verifying need no
/// hop to an actor: they are on every request's path.
public final class KeyRing: Sendable {
    /// The only algorithm Tegata signs and accepts for its own tokens.
    public static let algorithm = "ES256"
    /// The `typ` header of access tokens (RFC 9068 §2.1).
    public static let accessTokenType = "at+jwt"

    private let signingKey: P256.Signing.PrivateKey
    private let signingKeyID: KeyID
    /// base64url of the signing key's header and the "." after it: the same for every token.
    private let headerPrefix: String
    private let verificationKeys: [String: P256.Signing.PublicKey]
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
        verificationKeys = keys
        jwks = JWKSDocument(keys: [published[0]] + published.dropFirst().sorted { $0.kid < $1.kid })
        struct Header: Encodable {
            let alg: String
            let kid: String
            let typ: String
        }
        let header = try Self.encoder().encode(Header(alg: Self.algorithm, kid: signing.id.rawValue, typ: Self.accessTokenType))
        headerPrefix = Base64URL.encode(header) + "."
    }

    /// Compact JSON with no escaped slashes in `iss`/`aud`, as every JOSE library writes them.
    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
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

    /// Verifies an access token's header and signature and decodes its claims. The caller still
    /// validates the claims with an ``AccessTokenValidator`` at its own `now`.
    public func verifySignature(_ token: String) throws(AccessTokenError) -> AccessTokenClaims {
        let jws = try CompactJWS(token)
        let header = jws.header
        guard header.alg == Self.algorithm else { throw .unsupportedAlgorithm }
        guard header.typ?.lowercased() == Self.accessTokenType || header.typ?.lowercased() == "application/at+jwt"
        else { throw .wrongType }
        guard header.crit == nil else { throw .malformed }
        guard let kid = header.kid, let publicKey = verificationKeys[kid] else { throw .unknownKey }
        guard let signatureBytes = Base64URL.decode(utf8: jws.signature) else { throw .malformed }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
              publicKey.isValidSignature(signature, for: Data(jws.signingInput))
        else { throw .badSignature }
        // The signature held; claims that are not the ones Tegata issues are still refused.
        guard let payload = Base64URL.decode(utf8: jws.payload),
              let claims = try? JSONDecoder().decode(AccessTokenClaims.self, from: payload)
        else { throw .malformed }
        return claims
    }
}
