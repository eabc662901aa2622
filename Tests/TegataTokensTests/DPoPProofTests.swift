import Crypto
import Foundation
import TegataTestSupport
import TegataTokens
import TegataWire
import Testing

/// The proof itself (RFC 9449 §4.3), against proofs the tests make independently.
@Suite struct DPoPProofTests {
    let url = "https://auth.example.com/oauth/token"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aWellFormedProofGivesItsKeysThumbprintAndClaims() throws {
        let key = TestDPoPKey()
        let proof = try DPoPProof.verify(key.proof("POST", url, iat: now, accessToken: "at", nonce: "n-1", jti: "id-1"))
        #expect(proof.thumbprint == key.thumbprint, "RFC 7638, computed independently")
        #expect(proof.jti == "id-1" && proof.htm == "POST" && proof.htu == url && proof.iat == 1_800_000_000 && proof.nonce == "n-1")
        #expect(proof.proves(accessToken: "at") && !proof.proves(accessToken: "another"))
        #expect(proof.matches(method: "POST", url: url))
        #expect(!proof.matches(method: "GET", url: url), "htm")
        #expect(!proof.matches(method: "POST", url: "https://auth.example.com/v1/me"), "htu")
        #expect(!proof.matches(method: "POST", url: "https://evil.example.com/oauth/token"), "another host")
    }

    @Test func urisCompareNormalisedWithoutQueryOrFragment() {
        for (presented, expected) in [
            ("HTTPS://Auth.Example.COM/oauth/token", url),
            ("https://auth.example.com:443/oauth/token", url),
            ("https://auth.example.com/oauth/token?x=1", url),
            ("https://auth.example.com/oauth/token#f", url),
            ("http://127.0.0.1:80/", "http://127.0.0.1"),
            ("https://a.example/p%2fq", "https://a.example/p%2Fq"),
        ] {
            #expect(DPoPProof.normalizedURI(presented) == DPoPProof.normalizedURI(expected), "\(presented)")
        }
        for (presented, expected) in [
            ("https://auth.example.com:8443/oauth/token", url),
            ("http://auth.example.com/oauth/token", url),
            ("https://auth.example.com/oauth/token/", url),
            ("https://auth.example.com/OAUTH/token", url),
        ] {
            #expect(DPoPProof.normalizedURI(presented) != DPoPProof.normalizedURI(expected), "\(presented)")
        }
        for bad in ["/oauth/token", "ftp://a.example/x", "https://user:pw@a.example/x", "https:///x", "", "not a uri"] {
            #expect(DPoPProof.normalizedURI(bad) == nil, "\(bad)")
        }
    }

    @Test func freshnessIsTheWindowAroundNow() throws {
        let key = TestDPoPKey()
        for (offset, fresh) in [(0.0, true), (-60, true), (-65, true), (-66, false), (5, true), (6, false), (-3600, false)] {
            let proof = try DPoPProof.verify(key.proof("POST", url, iat: now.addingTimeInterval(offset)))
            #expect(proof.isFresh(at: now, maximumAge: 60, leeway: 5) == fresh, "iat offset \(offset)")
        }
    }

    @Test func everyMalformedOrForgedProofIsRefusedWithAReason() throws {
        let key = TestDPoPKey(), other = TestDPoPKey()
        let (x, y) = key.coordinates
        let d = TestDPoPKey.base64url(key.privateKey.rawRepresentation)
        let cases: [(String, String)] = [
            ("typ", key.proof("POST", url, iat: now, typ: "jwt")),
            ("typ", key.proof("POST", url, iat: now, typ: "at+jwt")),
            ("alg", key.proof("POST", url, iat: now, alg: "none")),
            ("alg", key.proof("POST", url, iat: now, alg: "HS256")),
            ("alg", key.proof("POST", url, iat: now, alg: "RS256")),
            ("private key", key.proof("POST", url, iat: now, jwk: #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","d":"\#(d)"}"#)),
            ("P-256 public key", key.proof("POST", url, iat: now, jwk: #"{"kty":"EC","crv":"P-384","x":"\#(x)","y":"\#(y)"}"#)),
            ("P-256 public key", key.proof("POST", url, iat: now, jwk: #"{"kty":"oct","k":"c2VjcmV0"}"#)),
            ("P-256 public key", key.proof("POST", url, iat: now, jwk: #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(x)"}"#)),
            ("jwk", key.proof("POST", url, iat: now, jwk: #""not an object""#)),
            ("crit", key.proof("POST", url, iat: now, extraHeader: #","crit":["exp"]"#)),
            ("signature", key.proof("POST", url, iat: now, signer: other.privateKey)),
            ("header", key.proof("POST", url, iat: now, extraHeader: #","typ":"dpop+jwt""#)),
            ("iat", key.proof("POST", url, iat: now, iatValue: #""1800000000""#)),
            ("iat", key.proof("POST", url, iat: now, iatValue: "true")),
            ("jti", key.proof("POST", url, iat: now, jti: "")),
            ("jti", key.proof("POST", url, iat: now, jti: String(repeating: "j", count: 257))),
            ("compact JWS", "a.b"),
            ("header", "!!!.e30.AA"),
            ("longer", String(repeating: "a", count: 5000)),
        ]
        for (reason, proof) in cases {
            #expect {
                try DPoPProof.verify(proof)
            } throws: { error in
                "\(error)".contains(reason) && !"\(error)".contains(proof.prefix(20))
            }
        }
    }

    @Test func aBoundTokensConfirmationIsReadTheFastWayAndTheSlowWay() throws {
        let claims = AccessTokenClaims(
            iss: "i", sub: "s", aud: "a", exp: 2, nbf: 1, iat: 1, jti: "j", sid: "sid", clientID: "c", amr: ["device"], anon: true, tv: 0,
            ent: nil, cnf: Confirmation(jkt: "thumb"))
        var writer = JSONWriter()
        claims.write(to: &writer)
        #expect(String(decoding: writer.bytes, as: UTF8.self).contains(#""cnf":{"jkt":"thumb"}"#))
        let decoded = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(writer.bytes))
        #expect(decoded == claims)
        let withApp = AccessTokenClaims(
            iss: "i", sub: "s", aud: "a", exp: 2, nbf: 1, iat: 1, jti: "j", sid: "sid", clientID: "c", amr: ["device"], anon: true, tv: 0,
            ent: nil, cnf: Confirmation(jkt: "thumb"), app: ["role": .string("admin")])
        var other = JSONWriter()
        withApp.write(to: &other)
        #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: Data(other.bytes)) == withApp)
    }
}
