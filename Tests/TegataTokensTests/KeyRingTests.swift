import Crypto
import Foundation
import TegataTokens
import TegataWire
import Testing

private func claims(
    exp: Int64 = 1_800_000_900, iat: Int64 = 1_800_000_000, iss: String = "https://auth.example", aud: String = "https://auth.example"
) -> AccessTokenClaims {
    AccessTokenClaims(
        iss: iss, sub: "user-1", aud: aud, exp: exp, nbf: iat, iat: iat, jti: "jti-1", sid: "sid-1",
        clientID: "tegata", amr: ["device"], anon: true, tv: 0, ent: nil)
}

/// Builds a compact JWS by hand, so tests can make headers and signatures the key ring never would.
private func compact(header: [String: Any], payload: Data, sign: (Data) throws -> Data) rethrows -> String {
    let headerData = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    let input = Base64URL.encode(headerData) + "." + Base64URL.encode(payload)
    return input + "." + Base64URL.encode(try sign(Data(input.utf8)))
}

private func payloadData(_ claims: AccessTokenClaims) -> Data { try! JSONEncoder().encode(claims) }

@Suite struct KeyRingTests {
    let key = SigningKey.generate()

    @Test func signsWithRFC9068HeaderAndVerifies() async throws {
        let ring = try KeyRing(signing: key)
        let token = try ring.sign(claims())
        let parts = token.split(separator: ".")
        #expect(parts.count == 3)
        let header = try JSONSerialization.jsonObject(with: Base64URL.decode(parts[0])!) as! [String: Any]
        #expect(header["typ"] as? String == "at+jwt")
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == key.id.rawValue)
        let payload = String(decoding: Base64URL.decode(parts[1])!, as: UTF8.self)
        #expect(payload.contains(#""iss":"https://auth.example""#), "no escaped slashes")
        #expect(try ring.verifySignature(token) == claims())
    }

    @Test func independentP256CheckAcceptsTheSignature() async throws {
        // Rebuild the ES256 check on swift-crypto from the published JWK alone.
        let ring = try KeyRing(signing: key)
        let token = try ring.sign(claims())
        let jwk = ring.jwks.keys[0]
        let x = Base64URL.decode(jwk.x)!, y = Base64URL.decode(jwk.y)!
        let publicKey = try P256.Signing.PublicKey(x963Representation: Data([0x04]) + x + y)
        let parts = token.split(separator: ".")
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: Base64URL.decode(parts[2])!)
        #expect(publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
        #expect(jwk.kty == "EC" && jwk.crv == "P-256" && jwk.alg == "ES256" && jwk.use == "sig")
    }

    @Test func tamperedPayloadIsRejected() async throws {
        let ring = try KeyRing(signing: key)
        let token = try ring.sign(claims())
        let parts = token.split(separator: ".").map(String.init)
        var forged = claims()
        forged.sub = "someone-else"
        let tampered = parts[0] + "." + Base64URL.encode(payloadData(forged)) + "." + parts[2]
        #expect(throws: AccessTokenError.badSignature) { try ring.verifySignature(tampered) }
    }

    @Test func algNoneAndHMACAreRejected() async throws {
        let ring = try KeyRing(signing: key)
        let none = compact(header: ["alg": "none", "typ": "at+jwt", "kid": key.id.rawValue], payload: payloadData(claims())) { _ in Data() }
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(none) }
        let noneWithSig = compact(header: ["alg": "none", "typ": "at+jwt", "kid": key.id.rawValue], payload: payloadData(claims())) { _ in Data([1]) }
        #expect(throws: AccessTokenError.unsupportedAlgorithm) { try ring.verifySignature(noneWithSig) }
        // HS256 "signed" with the public key: the classic algorithm-confusion attack.
        let publicKeyBytes = key.privateKey.publicKey.x963Representation
        let hs = compact(header: ["alg": "HS256", "typ": "at+jwt", "kid": key.id.rawValue], payload: payloadData(claims())) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: publicKeyBytes)))
        }
        #expect(throws: AccessTokenError.unsupportedAlgorithm) { try ring.verifySignature(hs) }
    }

    @Test func wrongTypIsRejected() async throws {
        let ring = try KeyRing(signing: key)
        for typ in ["JWT", "id_token+jwt"] {
            let token = compact(header: ["alg": "ES256", "typ": typ, "kid": key.id.rawValue], payload: payloadData(claims())) {
                try! key.privateKey.signature(for: $0).rawRepresentation
            }
            #expect(throws: AccessTokenError.wrongType) { try ring.verifySignature(token) }
        }
        let untyped = compact(header: ["alg": "ES256", "kid": key.id.rawValue], payload: payloadData(claims())) {
            try! key.privateKey.signature(for: $0).rawRepresentation
        }
        #expect(throws: AccessTokenError.wrongType) { try ring.verifySignature(untyped) }
    }

    @Test func typIsComparedWithoutCaseInEitherSpelling() async throws {
        let ring = try KeyRing(signing: key)
        for typ in ["at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT"] {
            let token = compact(header: ["alg": "ES256", "typ": typ, "kid": key.id.rawValue], payload: payloadData(claims())) {
                try! key.privateKey.signature(for: $0).rawRepresentation
            }
            #expect(try ring.verifySignature(token).sub == claims().sub, "\(typ)")
        }
    }

    @Test func unknownOrMissingKidIsRejectedNotVerifiedWithADefaultKey() async throws {
        let ring = try KeyRing(signing: key)
        // Correctly signed by the ring's own key, but naming a kid the ring does not publish.
        let strayKid = compact(header: ["alg": "ES256", "typ": "at+jwt", "kid": "not-a-key"], payload: payloadData(claims())) {
            try! key.privateKey.signature(for: $0).rawRepresentation
        }
        #expect(throws: AccessTokenError.unknownKey) { try ring.verifySignature(strayKid) }
        let noKid = compact(header: ["alg": "ES256", "typ": "at+jwt"], payload: payloadData(claims())) {
            try! key.privateKey.signature(for: $0).rawRepresentation
        }
        #expect(throws: AccessTokenError.unknownKey) { try ring.verifySignature(noKid) }
    }

    @Test func foreignKeyClaimingOurKidIsRejected() async throws {
        let ring = try KeyRing(signing: key)
        let attacker = SigningKey.generate()
        let token = compact(header: ["alg": "ES256", "typ": "at+jwt", "kid": key.id.rawValue], payload: payloadData(claims())) {
            try! attacker.privateKey.signature(for: $0).rawRepresentation
        }
        #expect(throws: AccessTokenError.badSignature) { try ring.verifySignature(token) }
    }

    @Test func critHeaderAndGarbageAreMalformed() async throws {
        let ring = try KeyRing(signing: key)
        let crit = compact(header: ["alg": "ES256", "typ": "at+jwt", "kid": key.id.rawValue, "crit": ["exp"]], payload: payloadData(claims())) {
            try! key.privateKey.signature(for: $0).rawRepresentation
        }
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(crit) }
        for garbage in ["", "a.b", "a.b.c.d", "....", "!!.!!.!!", String(repeating: "A", count: 9_000) + ".a.b", "\u{0}.\u{0}.\u{0}"] {
            #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(garbage) }
        }
    }

    /// RFC 7515 §4 / RFC 7519 §4: a repeated member name is rejected, never read as the first (as
    /// JSONDecoder would) or the last (as most other parsers would). A valid `exp` first and an expired
    /// one last, a second `alg` in the header, or a trailing comma: each is malformed though signed.
    @Test func repeatedNamesAndNonStrictJSONAreMalformedThoughSigned() async throws {
        let ring = try KeyRing(signing: key)
        func signed(header: String, payload: String) -> String {
            let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
            return input + "." + Base64URL.encode(try! key.privateKey.signature(for: Data(input.utf8)).rawRepresentation)
        }
        let header = #"{"alg":"ES256","kid":"\#(key.id.rawValue)","typ":"at+jwt"}"#
        let plain = String(decoding: claims().jsonBytes, as: UTF8.self)
        // The same claims in a form the fast reader leaves to JSONDecoder (a space, an unknown claim) verify.
        let spaced = plain.replacingOccurrences(of: ",", with: ", ")
        #expect(try ring.verifySignature(signed(header: header, payload: spaced)).exp == 1_800_000_900)
        let extra = String(plain.dropLast()) + #","x":1}"#
        #expect(try ring.verifySignature(signed(header: header, payload: extra)).exp == 1_800_000_900)
        // A second, expired `exp` after the valid one: the fast form and the decoder's form alike.
        let twice = String(plain.dropLast()) + #","exp":1}"#
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(signed(header: header, payload: twice)) }
        let twiceSpaced = String(spaced.dropLast()) + #", "x": 1, "exp": 1}"#
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(signed(header: header, payload: twiceSpaced)) }
        // The same name spelt with an escape is the same name.
        let escaped = String(spaced.dropLast()) + #", "exp": 1}"#
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(signed(header: header, payload: escaped)) }
        let trailingComma = String(spaced.dropLast()) + ",}"
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(signed(header: header, payload: trailingComma)) }
        // In the header: a second `alg` (a header not in Tegata's fixed bytes is decoded).
        let twoAlgs = #"{"alg":"ES256","kid":"\#(key.id.rawValue)","typ":"at+jwt","alg":"none"}"#
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(signed(header: twoAlgs, payload: plain)) }
        let spacedHeader = #"{"alg": "ES256", "kid": "\#(key.id.rawValue)", "typ": "at+jwt"}"#
        #expect(try ring.verifySignature(signed(header: spacedHeader, payload: plain)).sub == "user-1")
    }

    @Test func missingClaimIsMalformed() async throws {
        let ring = try KeyRing(signing: key)
        let payload = try JSONSerialization.data(withJSONObject: ["iss": "x", "sub": "y"])
        let token = compact(header: ["alg": "ES256", "typ": "at+jwt", "kid": key.id.rawValue], payload: payload) {
            try! key.privateKey.signature(for: $0).rawRepresentation
        }
        #expect(throws: AccessTokenError.malformed) { try ring.verifySignature(token) }
    }

    @Test func everyPublishedKeyVerifiesButOnlyTheCurrentSigns() async throws {
        let older = SigningKey.generate()
        let oldRing = try KeyRing(signing: older)
        let oldToken = try oldRing.sign(claims())
        let ring = try KeyRing(signing: key, others: [older])
        #expect(ring.currentKeyID == key.id)
        #expect(ring.jwks.keys.map(\.kid).first == key.id.rawValue)
        #expect(Set(ring.jwks.keys.map(\.kid)) == [key.id.rawValue, older.id.rawValue])
        #expect(try ring.verifySignature(oldToken).sub == "user-1")
    }
}

@Suite struct SigningKeyTests {
    @Test func thumbprintIsRFC7638OfThePublishedJWK() throws {
        let key = SigningKey.generate()
        let jwk = key.publicJWK
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let canonical = #"{"crv":"\#(jwk.crv)","kty":"\#(jwk.kty)","x":"\#(jwk.x)","y":"\#(jwk.y)"}"#
        #expect(jwk.kid == Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8)))))
        #expect(Base64URL.decode(jwk.x)?.count == 32 && Base64URL.decode(jwk.y)?.count == 32)
    }

    @Test func pemAndRawRoundTripsKeepTheId() throws {
        let key = SigningKey.generate()
        #expect(try SigningKey(pem: key.privateKey.pemRepresentation).id == key.id)
        #expect(try SigningKey(rawRepresentation: key.rawRepresentation).id == key.id)
        #expect(throws: (any Error).self) { try SigningKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----") }
    }
}

@Suite struct VerificationKeysTests {
    let key = SigningKey.generate()

    private func claims() -> AccessTokenClaims {
        AccessTokenClaims(
            iss: "https://auth.example", sub: "user-1", aud: "https://auth.example", exp: 1_800_000_900, nbf: 1_800_000_000,
            iat: 1_800_000_000, jti: "jti-1", sid: "sid-1", clientID: "tegata", amr: ["device"], anon: true, tv: 0, ent: nil)
    }

    @Test func aResourceServerVerifiesWithThePublishedJWKSAlone() throws {
        let older = SigningKey.generate()
        let ring = try KeyRing(signing: key, others: [older])
        // Through JSON, as a resource server receives it.
        let jwks = try JSONDecoder().decode(JWKSDocument.self, from: try JSONEncoder().encode(ring.jwks))
        let keys = VerificationKeys(jwks: jwks)
        #expect(keys.keyIDs == [key.id.rawValue, older.id.rawValue])
        #expect(try keys.verifySignature(try ring.sign(claims())) == claims())
        #expect(try keys.verifySignature(try KeyRing(signing: older).sign(claims())).sub == "user-1")
        #expect(throws: AccessTokenError.unknownKey) { try keys.verifySignature(try KeyRing(signing: .generate()).sign(claims())) }
    }

    @Test func onlyES256SigningKeysOnTheCurveAreTaken() throws {
        let good = key.publicJWK
        var rsa = good; rsa.kty = "RSA"; rsa.kid = "rsa"
        var hs = good; hs.alg = "HS256"; hs.kid = "hs"
        var encryption = good; encryption.use = "enc"; encryption.kid = "enc"
        var otherCurve = good; otherCurve.crv = "P-384"; otherCurve.kid = "p384"
        var offCurve = good; offCurve.y = Base64URL.encode(Data(repeating: 1, count: 32)); offCurve.kid = "off"
        var short = good; short.x = "AAAA"; short.kid = "short"
        let keys = VerificationKeys(jwks: JWKSDocument(keys: [rsa, hs, encryption, otherCurve, offCurve, short, good]))
        #expect(keys.keyIDs == [good.kid])
        #expect(VerificationKeys(jwks: JWKSDocument(keys: [])).keyIDs.isEmpty)
    }
}
