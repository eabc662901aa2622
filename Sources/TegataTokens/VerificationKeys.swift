import Crypto
import Foundation
import TegataWire

/// The public keys that verify Tegata access tokens, by `kid`: the key ring's own, or those of a
/// JWKS document (what a resource server has). Verification enforces Tegata's rules before any
/// signature check: `alg` must be ES256, `typ` must be `at+jwt`, `kid` must name one of these keys
/// (there is no default key), and `crit` is refused.
public struct VerificationKeys: Sendable {
    private let keys: [String: P256.Signing.PublicKey]
    /// The header segment Tegata writes for each key (`{"alg":"ES256","kid":…,"typ":"at+jwt"}`), so
    /// that its tokens' headers need no JSON decoding. Any other header is decoded and checked.
    private let knownHeaders: [(segment: [UInt8], header: TokenHeader)]

    /// Keys by id.
    public init(_ keys: [String: P256.Signing.PublicKey]) {
        self.keys = keys
        knownHeaders = keys.keys.filter { kid in kid.utf8.allSatisfy { Base64URL.isAlphabetByte($0) } }.map { kid in
            (Array(KeyRing.accessTokenHeaderSegment(kid: kid).utf8), TokenHeader(alg: KeyRing.algorithm, typ: KeyRing.accessTokenType, kid: kid))
        }
    }

    /// The ES256 keys of a JWKS document. Entries of any other type, curve, algorithm or use, or whose
    /// coordinates are not a point on P-256, are left out: an algorithm is allowed by the key that
    /// carries it, never by a token's header alone.
    public init(jwks: JWKSDocument) {
        var keys: [String: P256.Signing.PublicKey] = [:]
        for jwk in jwks.keys where jwk.kty == "EC" && jwk.crv == "P-256" && jwk.alg == KeyRing.algorithm && jwk.use == "sig" {
            guard let x = Base64URL.decode(jwk.x), let y = Base64URL.decode(jwk.y), x.count == 32, y.count == 32,
                  let key = try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
            else { continue }
            keys[jwk.kid] = key
        }
        self.init(keys)
    }

    /// The ids of the keys.
    public var keyIDs: Set<String> { Set(keys.keys) }

    /// Verifies an access token's header and signature and decodes its claims. The caller still
    /// validates the claims with an ``AccessTokenValidator`` at its own `now`.
    public func verifySignature(_ token: String) throws(AccessTokenError) -> AccessTokenClaims {
        guard token.utf8.count <= TokenHeader.maximumTokenLength else { throw .malformed }
        var token = token
        return try token.withUTF8 { verifySignature(utf8: $0) }.get()
    }

    private func verifySignature(utf8 token: UnsafeBufferPointer<UInt8>) -> Result<AccessTokenClaims, AccessTokenError> {
        let jws: CompactJWS
        do { jws = try CompactJWS(token, knownHeaders: knownHeaders) } catch { return .failure(error) }
        let header = jws.header
        guard header.alg == KeyRing.algorithm else { return .failure(.unsupportedAlgorithm) }
        // `typ` is compared without case (RFC 7515 §4.1.9); the spelling Tegata writes is tried first,
        // without making a lowercased copy.
        guard let typ = header.typ, typ == KeyRing.accessTokenType || [KeyRing.accessTokenType, "application/at+jwt"].contains(typ.lowercased())
        else { return .failure(.wrongType) }
        guard header.crit == nil else { return .failure(.malformed) }
        guard let kid = header.kid, let publicKey = keys[kid] else { return .failure(.unknownKey) }
        let signatureHolds = Base64URL.withDecoded(utf8: jws.signature) { signatureBytes -> Bool in
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes) else { return false }
            // The digest is taken from the buffer directly (`isValidSignature(_:for:)` over a
            // `DataProtocol` value hashes through its generic `regions`); over a digest it is the
            // same check.
            var hash = SHA256()
            hash.update(bufferPointer: UnsafeRawBufferPointer(jws.signingInput))
            return publicKey.isValidSignature(signature, for: hash.finalize())
        }
        guard let signatureHolds else { return .failure(.malformed) }
        guard signatureHolds else { return .failure(.badSignature) }
        // The signature held; claims that are not the ones Tegata issues are still refused.
        // The payload is decoded into a temporary buffer and read from there. The fast reader
        // accepts only strict JSON without repeated names; what it leaves goes to JSONDecoder after
        // the strict check, since JSONDecoder would keep the first of two `exp`s where most other
        // parsers keep the last (RFC 7519 §4: reject).
        let claims = Base64URL.withDecoded(utf8: jws.payload) { payload -> AccessTokenClaims? in
            if let claims = ClaimsReader.read(payload) { return claims }
            let payload = Data(payload)
            guard StrictJSON.isValid(payload) else { return nil }
            return try? JSONDecoder().decode(AccessTokenClaims.self, from: payload)
        }
        guard case .some(.some(let claims)) = claims else { return .failure(.malformed) }
        return .success(claims)
    }
}
