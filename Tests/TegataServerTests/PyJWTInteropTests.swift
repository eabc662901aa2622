import Foundation
import HTTPTypes
import HummingbirdTesting
import TegataWire
import Testing

@Suite struct PyJWTInteropTests {
    /// A JOSE implementation that shares no code with Tegata (PyJWT over `cryptography`) accepts the
    /// access token against the served JWKS, with audience and issuer checks on.
    @Test(.enabled(if: Python.shouldRun(needing: "jwt"), "python3 with PyJWT is not installed"))
    func pyJWTVerifiesTheAccessToken() async throws {
        let (token, jwks) = try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { $0.text }
            return (tokens.accessToken, jwks)
        }
        let script = """
            import json, sys, jwt
            token, jwks, issuer = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
            header = jwt.get_unverified_header(token)
            assert header["typ"] == "at+jwt", header
            key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
            claims = jwt.decode(token, key, algorithms=["ES256"], audience=issuer, issuer=issuer,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
            print(claims["sub"])
            """
        let good = try await Python.run(script, arguments: [token, jwks, "http://127.0.0.1:8080"])
        #expect(good.status == 0, "\(good.output)")
        let forged = String(token.dropLast(4)) + (token.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        #expect(try await Python.run(script, arguments: [forged, jwks, "http://127.0.0.1:8080"]).status != 0, "PyJWT rejects a forged signature")
    }
}
