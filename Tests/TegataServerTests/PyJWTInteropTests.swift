import Foundation
import HTTPTypes
import HummingbirdTesting
import TegataWire
import Testing

/// Whether `python3` with PyJWT is on this machine (`.ci/run` installs it).
private let pyJWTAvailable: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import jwt"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}()

@Suite struct PyJWTInteropTests {
    /// A JOSE implementation that shares no code with Tegata (PyJWT over `cryptography`) accepts the
    /// access token against the served JWKS, with audience and issuer checks on.
    @Test(.enabled(if: pyJWTAvailable, "python3 with PyJWT is not installed"))
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, token, jwks, "http://127.0.0.1:8080"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        let forged = String(token.dropLast(4)) + (token.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", script, forged, jwks, "http://127.0.0.1:8080"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus != 0, "PyJWT rejects a forged signature")
    }
}
