import Crypto
import Foundation
import JWTKit
import TegataWire

/// The signing keys of this server: one signs, all are published and verify. Backed by jwt-kit's
/// key collection; Tegata itself enforces what jwt-kit leaves open (an `alg` allow-list matching the
/// key, `typ: at+jwt`, and a `kid` that must name a published key — never a default key).
public actor KeyRing {
    /// The only algorithm Tegata signs and accepts for its own tokens.
    public static let algorithm = "ES256"
    /// The `typ` header of access tokens (RFC 9068 §2.1).
    public static let accessTokenType = "at+jwt"

    private let collection = JWTKeyCollection()
    private var published: [KeyID: PublicJWK] = [:]
    private var signingKeyID: KeyID

    /// Creates a ring that signs with `signing` and also publishes and accepts `others`.
    public init(signing: SigningKey, others: [SigningKey] = []) async throws {
        self.signingKeyID = signing.id
        for key in [signing] + others {
            try await self.add(key)
        }
    }

    /// Adds a key: published in the JWKS and accepted for verification.
    private func add(_ key: SigningKey) async throws {
        guard published[key.id] == nil else { return }
        let jwtKey = try ES256PrivateKey(backing: key.privateKey)
        published[key.id] = key.publicJWK
        // Compact JSON: no escaped slashes in `iss`/`aud`, as every JOSE library writes them.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        await collection.add(
            ecdsa: jwtKey, kid: JWKIdentifier(string: key.id.rawValue),
            serializer: DefaultJWTSerializer(jsonEncoder: encoder))
        // Never fall back to a default key for a token whose kid is unknown.
        _ = await collection.clearDefault()
    }

    /// The id of the key that signs new tokens.
    public var currentKeyID: KeyID { signingKeyID }

    /// The public keys as served at `/.well-known/jwks.json`, signing key first.
    public var jwks: JWKSDocument {
        var keys = published.values.sorted { $0.kid < $1.kid }
        if let index = keys.firstIndex(where: { $0.kid == signingKeyID.rawValue }) {
            keys.insert(keys.remove(at: index), at: 0)
        }
        return JWKSDocument(keys: keys)
    }

    /// Signs access-token claims with the current key, header `{"alg":"ES256","kid":…,"typ":"at+jwt"}`.
    public func sign(_ claims: AccessTokenClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = Self.accessTokenType
        header.alg = Self.algorithm
        return try await collection.sign(claims, kid: JWKIdentifier(string: signingKeyID.rawValue), header: header)
    }

    /// Verifies an access token's header and signature and decodes its claims. The caller still
    /// validates the claims with an ``AccessTokenValidator`` at its own `now`.
    public func verifySignature(_ token: String) async throws(AccessTokenError) -> AccessTokenClaims {
        let header = try TokenHeader.parse(compact: token)
        guard header.alg == Self.algorithm else { throw .unsupportedAlgorithm }
        guard header.typ?.lowercased() == Self.accessTokenType || header.typ?.lowercased() == "application/at+jwt"
        else { throw .wrongType }
        guard header.crit == nil else { throw .malformed }
        guard let kid = header.kid, published[KeyID(rawValue: kid)] != nil else { throw .unknownKey }
        do {
            return try await collection.verify(token, as: AccessTokenClaims.self)
        } catch is DecodingError {
            // The signature held but the claims are not the ones Tegata issues.
            throw .malformed
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw .malformed
        } catch {
            // jwt-kit reports a failed signature as a JWTError or as a swift-crypto error; either way
            // the token is not acceptable.
            throw .badSignature
        }
    }
}
