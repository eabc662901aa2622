import Crypto
import CryptoExtras
import Foundation
import TegataTokens
import Testing

/// The ID-token rules and the key-set parser, without I/O.
@Suite struct IDTokenVerifierTests {
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let ec = P256.Signing.PrivateKey()
    static let ec384 = P384.Signing.PrivateKey()
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func segment(_ object: [String: Any]) -> String {
        Base64URL.encode(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func rsaJWK(kid: String?, alg: String? = "RS256", key: _RSA.Signing.PublicKey = rsa.publicKey) -> [String: Any] {
        let primitives = try! key.getKeyPrimitives()
        var jwk: [String: Any] = ["kty": "RSA", "n": Base64URL.encode(primitives.modulus), "e": Base64URL.encode(primitives.publicExponent)]
        jwk["kid"] = kid
        jwk["alg"] = alg
        return jwk
    }

    static func ecJWK(kid: String, point: Data, crv: String = "P-256") -> [String: Any] {
        let size = (point.count - 1) / 2
        return ["kty": "EC", "crv": crv, "kid": kid, "use": "sig",
                "x": Base64URL.encode(point[1..<(1 + size)]), "y": Base64URL.encode(point[(1 + size)...])]
    }

    static func keySet(_ jwks: [Any]) throws -> ExternalKeySet {
        try ExternalKeySet(jwksJSON: try JSONSerialization.data(withJSONObject: ["keys": jwks]))
    }

    static let keys = try! keySet([
        rsaJWK(kid: "r1"), ecJWK(kid: "e1", point: ec.publicKey.x963Representation),
        ecJWK(kid: "e384", point: ec384.publicKey.x963Representation, crv: "P-384"),
    ])

    static let rules = IDTokenRules(
        issuers: ["https://issuer.example"], audiences: ["app-1", "app-2"], algorithms: [.rs256, .es256, .es384], nonceRequired: false)

    static func claims(_ change: (inout [String: Any]) -> Void = { _ in }) -> [String: Any] {
        var claims: [String: Any] = ["iss": "https://issuer.example", "aud": "app-1", "sub": "user-1",
                                     "iat": 1_800_000_000, "exp": 1_800_000_600]
        change(&claims)
        return claims
    }

    static func rs256(_ claims: [String: Any], header: [String: Any] = ["alg": "RS256", "kid": "r1"]) -> String {
        let input = segment(header) + "." + segment(claims)
        let signature = try! rsa.signature(for: SHA256.hash(data: Data(input.utf8)), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    static func es256(_ claims: [String: Any], header: [String: Any] = ["alg": "ES256", "kid": "e1"]) -> String {
        let input = segment(header) + "." + segment(claims)
        return input + "." + Base64URL.encode(try! ec.signature(for: Data(input.utf8)).rawRepresentation)
    }

    func verify(_ token: String, rules: IDTokenRules = rules, nonce: String? = nil) throws(IDTokenError) -> VerifiedIDToken {
        try IDTokenVerifier.verify(token, keys: Self.keys, rules: rules, now: Self.now, rawNonce: nonce)
    }

    func expectReason(_ reason: IDTokenError.Reason, _ token: String, rules: IDTokenRules = rules, nonce: String? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: IDTokenError(reason), sourceLocation: sourceLocation) { try verify(token, rules: rules, nonce: nonce) }
    }

    static func hs256(_ claims: [String: Any], secret: String, header: [String: Any] = ["alg": "HS256", "typ": "JWT"]) -> String {
        let input = segment(header) + "." + segment(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + Base64URL.encode(Data(mac))
    }

    /// LINE Login's web ID tokens are HS256 with the channel secret: accepted only for a provider
    /// configured with its secret, with that secret as the key — never a key the token names, never
    /// the provider's public key (the algorithm-confusion attack), never without the setting.
    @Test func hs256VerifiesOnlyWithTheProvidersOwnConfiguredSecret() throws {
        let secret = "0123456789abcdef0123456789abcdef"
        var line = Self.rules
        line.hmacSecret = ProviderSecret(secret)
        #expect(try verify(Self.hs256(Self.claims(), secret: secret), rules: line).subject == "user-1")
        #expect(try verify(Self.es256(Self.claims()), rules: line).subject == "user-1", "ES256 tokens still verify with the JWKS")
        expectReason(.badSignature, Self.hs256(Self.claims(), secret: "another-secret-0123456789abcdef01"), rules: line)
        expectReason(.badSignature, Self.hs256(Self.claims(), secret: secret, header: ["alg": "HS256", "kid": "e1"]).dropLast(2) + "AA", rules: line)
        // Without the setting, HS256 is refused — even when the token claims a listed key.
        expectReason(.unsupportedAlgorithm, Self.hs256(Self.claims(), secret: secret))
        let publicKeyBytes = String(decoding: Self.ec.publicKey.x963Representation, as: UTF8.self)
        expectReason(.unsupportedAlgorithm, Self.hs256(Self.claims(), secret: publicKeyBytes, header: ["alg": "HS256", "kid": "e1"]))
        // The claims rules hold for HS256 tokens too.
        expectReason(.wrongAudience, Self.hs256(Self.claims { $0["aud"] = "other" }, secret: secret), rules: line)
        expectReason(.expired, Self.hs256(Self.claims { $0["exp"] = 1_700_000_000 }, secret: secret), rules: line)
        #expect(!"\(line)".contains(secret), "the secret is never printed")
    }

    @Test func goodTokensOfEachAlgorithm() throws {
        #expect(try verify(Self.rs256(Self.claims())).subject == "user-1")
        #expect(try verify(Self.es256(Self.claims())).subject == "user-1")
        let input = Self.segment(["alg": "ES384", "kid": "e384"]) + "." + Self.segment(Self.claims())
        let es384 = input + "." + Base64URL.encode(try Self.ec384.signature(for: Data(input.utf8)).rawRepresentation)
        #expect(try verify(es384).subject == "user-1")
        // aud as an array holding one configured audience; no kid (every key of the algorithm is tried).
        #expect(try verify(Self.es256(Self.claims { $0["aud"] = ["other", "app-2"]; $0["azp"] = "app-2" }, header: ["alg": "ES256"])).subject == "user-1")
    }

    /// OIDC Core §3.1.3.7: with several audiences, `azp` must be present and name a configured
    /// audience. With one audience an `azp` naming another client is Google's Android case (the app's
    /// client id, the server's as `aud`) and passes.
    @Test func severalAudiencesNeedAnAuthorizedPartyThatIsUs() throws {
        expectReason(.wrongAuthorizedParty, Self.rs256(Self.claims { $0["aud"] = ["other", "app-1"] }))
        expectReason(.wrongAuthorizedParty, Self.rs256(Self.claims { $0["aud"] = ["other", "app-1"]; $0["azp"] = "other" }))
        expectReason(.wrongAuthorizedParty, Self.rs256(Self.claims { $0["aud"] = ["app-1", "app-2"]; $0["azp"] = 7 }))
        #expect(try verify(Self.rs256(Self.claims { $0["aud"] = ["other", "app-1"]; $0["azp"] = "app-1" })).subject == "user-1")
        #expect(try verify(Self.rs256(Self.claims { $0["azp"] = "android-client.apps.googleusercontent.com" })).subject == "user-1")
    }

    /// The replay key names the token without its signature (which ECDSA lets anyone re-encode), or
    /// its `jti`; never the token itself.
    @Test func theReplayKeyIgnoresTheSignatureAndPrefersTheJTI() throws {
        let first = try verify(Self.es256(Self.claims()))
        let second = try verify(Self.es256(Self.claims()))  // the same claims, a new (random) ECDSA signature
        #expect(first.replayKey == second.replayKey && first.replayKey.hasPrefix("sha256:"))
        #expect(try verify(Self.es256(Self.claims { $0["iat"] = 1_800_000_001 })).replayKey != first.replayKey)
        #expect(try verify(Self.es256(Self.claims { $0["jti"] = "token-42" })).replayKey == "jti:token-42")
        #expect(first.expiresAt == Date(timeIntervalSince1970: 1_800_000_600))
    }

    /// A provider's signature over a payload naming `aud` or `exp` twice (or a header naming `alg`
    /// twice) is still refused: other parsers would read the other value (RFC 7519 §4).
    @Test func repeatedNamesAreMalformedThoughSigned() throws {
        func signed(header: String, payload: String) -> String {
            let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
            return input + "." + Base64URL.encode(try! Self.ec.signature(for: Data(input.utf8)).rawRepresentation)
        }
        let header = #"{"alg":"ES256","kid":"e1"}"#
        let payload = #"{"iss":"https://issuer.example","aud":"app-1","sub":"user-1","iat":1800000000,"exp":1800000600"#
        #expect(try verify(signed(header: header, payload: payload + "}")).subject == "user-1")
        expectReason(.malformed, signed(header: header, payload: payload + #","exp":1}"#))
        expectReason(.malformed, signed(header: header, payload: payload + #","aud":"someone-else"}"#))
        expectReason(.malformed, signed(header: header, payload: payload + ",}"))
        expectReason(.malformed, signed(header: #"{"alg":"ES256","kid":"e1","alg":"none"}"#, payload: payload + "}"))
    }

    @Test func emailClaimsInBothSpellings() throws {
        let apple = try verify(Self.rs256(Self.claims { $0["email"] = "a@example.com"; $0["email_verified"] = "true" }))
        #expect(apple.email == "a@example.com" && apple.emailVerified == true)
        let google = try verify(Self.rs256(Self.claims { $0["email_verified"] = false }))
        #expect(google.email == nil && google.emailVerified == false)
    }

    @Test func headerRules() {
        let claims = Self.claims()
        expectReason(.unsupportedAlgorithm, Self.rs256(claims, header: ["alg": "RS512", "kid": "r1"]))
        expectReason(.unsupportedAlgorithm, Self.segment(["alg": "none"]) + "." + Self.segment(claims) + ".AA")
        expectReason(.unsupportedAlgorithm, Self.segment(["alg": "HS256", "kid": "r1"]) + "." + Self.segment(claims) + ".AA")
        expectReason(.unsupportedAlgorithm, Self.rs256(claims, header: ["kid": "r1"]))
        // ES256 configured but the token names an RSA key's kid: no key fits.
        expectReason(.unknownKey, Self.es256(claims, header: ["alg": "ES256", "kid": "r1"]))
        expectReason(.unknownKey, Self.rs256(claims, header: ["alg": "RS256", "kid": "nope"]))
        expectReason(.wrongType, Self.rs256(claims, header: ["alg": "RS256", "kid": "r1", "typ": "at+jwt"]))
        expectReason(.criticalHeader, Self.rs256(claims, header: ["alg": "RS256", "kid": "r1", "crit": ["exp"]]))
        expectReason(.malformed, Self.rs256(claims, header: ["alg": "RS256", "kid": 7]))
        expectReason(.malformed, "a.b")
        expectReason(.malformed, String(repeating: "a", count: 20_000))
    }

    @Test func signatureRules() {
        let token = Self.rs256(Self.claims())
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = Self.segment(Self.claims { $0["sub"] = "user-2" })
        expectReason(.badSignature, parts.joined(separator: "."))
        expectReason(.malformed, token + "x")
        let empty = token.split(separator: ".")[0...1].joined(separator: ".") + "."
        expectReason(.malformed, empty)
    }

    @Test func claimRules() {
        expectReason(.wrongIssuer, Self.rs256(Self.claims { $0["iss"] = "https://issuer.example/" }))
        expectReason(.wrongIssuer, Self.rs256(Self.claims { $0["iss"] = nil }))
        expectReason(.wrongAudience, Self.rs256(Self.claims { $0["aud"] = "app-3" }))
        expectReason(.wrongAudience, Self.rs256(Self.claims { $0["aud"] = [] as [String] }))
        expectReason(.expired, Self.rs256(Self.claims { $0["exp"] = 1_799_999_970 }))
        #expect(throws: Never.self) { try verify(Self.rs256(Self.claims { $0["exp"] = 1_799_999_971 })) }
        expectReason(.issuedInFuture, Self.rs256(Self.claims { $0["iat"] = 1_800_000_031 }))
        expectReason(.notYetValid, Self.rs256(Self.claims { $0["nbf"] = 1_800_000_031 }))
        expectReason(.malformed, Self.rs256(Self.claims { $0["exp"] = "1800000600" }))
        expectReason(.malformed, Self.rs256(Self.claims { $0["exp"] = true }))
        expectReason(.malformed, Self.rs256(Self.claims { $0["iat"] = nil }))
        expectReason(.missingSubject, Self.rs256(Self.claims { $0["sub"] = "" }))
        expectReason(.missingSubject, Self.rs256(Self.claims { $0["sub"] = 42 }))
        var custom = Self.rules
        custom.subjectClaim = "player_id"
        expectReason(.missingSubject, Self.rs256(Self.claims()), rules: custom)
        #expect(try! verify(Self.rs256(Self.claims { $0["player_id"] = "p-9" }), rules: custom).subject == "p-9")
    }

    @Test func nonceRules() {
        let raw = "a-raw-nonce"
        let digest = IDTokenVerifier.nonceDigest(raw)
        #expect(digest == SHA256.hash(data: Data(raw.utf8)).map { String(format: "%02x", $0) }.joined())
        let withNonce = Self.rs256(Self.claims { $0["nonce"] = digest })
        #expect(throws: Never.self) { try verify(withNonce, nonce: raw) }
        expectReason(.nonceMissingInRequest, withNonce)
        expectReason(.nonceMissingInToken, Self.rs256(Self.claims()), nonce: raw)
        expectReason(.nonceMismatch, withNonce, nonce: "another")
        expectReason(.nonceMismatch, Self.rs256(Self.claims { $0["nonce"] = digest.uppercased() }), nonce: raw)
        expectReason(.nonceMismatch, Self.rs256(Self.claims { $0["nonce"] = raw }), nonce: raw)
        var required = Self.rules
        required.nonceRequired = true
        expectReason(.nonceRequired, Self.rs256(Self.claims()), rules: required)
        #expect(throws: Never.self) { try verify(withNonce, rules: required, nonce: raw) }
    }

    @Test func keySetKeepsOnlyUsableSigningKeys() throws {
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let set = try Self.keySet([
            Self.rsaJWK(kid: "good"),
            ["kty": "oct", "kid": "hmac", "k": "c2VjcmV0"],
            Self.rsaJWK(kid: "small", key: small.publicKey),
            Self.rsaJWK(kid: "enc", alg: "RSA-OAEP"),
            Self.rsaJWK(kid: "hs", alg: "HS256"),
            Self.rsaJWK(kid: "mismatch", alg: "ES256"),
            Self.rsaJWK(kid: "use-enc").merging(["use": "enc"]) { $1 },
            ["kty": "EC", "crv": "P-256", "kid": "off-curve", "x": Base64URL.encode(Data(repeating: 1, count: 32)),
             "y": Base64URL.encode(Data(repeating: 2, count: 32))],
            ["kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"],
            "not an object",
        ])
        #expect(set.keyIDs == ["good"])
        #expect(set.skippedCount == 9)
        #expect(throws: ExternalKeySet.ParseError.self) { try Self.keySet([["kty": "oct", "k": "c2VjcmV0"]]) }
        #expect(throws: ExternalKeySet.ParseError.self) { try ExternalKeySet(jwksJSON: Data("[]".utf8)) }
        #expect(throws: ExternalKeySet.ParseError.self) { try ExternalKeySet(jwksJSON: Data("{\"keys\": 3}".utf8)) }
    }

    @Test func aKeysOwnAlgorithmRestrictsIt() throws {
        // An RSA key published for RS256 does not verify an RS512 token, even when RS512 is allowed.
        let set = try Self.keySet([Self.rsaJWK(kid: "r1", alg: "RS256")])
        var rules = Self.rules
        rules.algorithms = [.rs512]
        let input = Self.segment(["alg": "RS512", "kid": "r1"]) + "." + Self.segment(Self.claims())
        let signature = try Self.rsa.signature(for: SHA512.hash(data: Data(input.utf8)), padding: .insecurePKCS1v1_5)
        let token = input + "." + Base64URL.encode(signature.rawRepresentation)
        #expect(throws: IDTokenError(.unknownKey)) { try IDTokenVerifier.verify(token, keys: set, rules: rules, now: Self.now, rawNonce: nil) }
        let open = try Self.keySet([Self.rsaJWK(kid: "r1", alg: nil)])
        #expect(throws: Never.self) { try IDTokenVerifier.verify(token, keys: open, rules: rules, now: Self.now, rawNonce: nil) }
    }
}
