// Access tokens signed and verified per second: Tegata's own ES256 JWS code (TegataTokens' KeyRing,
// on swift-crypto) against jwt-kit 5's JWTKeyCollection, with the same P-256 key, the same claims
// and the same header fields, in one run. Why Tegata signs on swift-crypto directly is written in
// docs/architecture.md; this is the measurement behind it.
//
// What each side does per token:
// - sign: claims → JSON → base64url, header, ECDSA P-256 signature → compact JWS;
// - verify: split, header checks (alg, typ, kid), signature, claims decoded, times checked
//   (Tegata: verifySignature + AccessTokenValidator; jwt-kit: verify(as:) with exp/nbf checks).
// Rounds alternate the two so both see the same machine noise; medians are printed, and the ratio.
import Crypto
import Foundation
import JWTKit
import TegataTokens

/// The same claims as Tegata's access token, as a jwt-kit payload.
struct JWTKitClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    var sid: String
    var client_id: String
    var amr: [String]
    var anon: Bool
    var tv: Int64

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired(currentDate: Date())
        try nbf.verifyNotBefore(currentDate: Date())
    }
}

@main
struct SigningComparison {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let rounds = arguments.count > 1 ? Int(arguments[1]) ?? 7 : 7
        let perRound = arguments.count > 2 ? Int(arguments[2]) ?? 5_000 : 5_000

        let privateKey = P256.Signing.PrivateKey()
        let signing = SigningKey(privateKey: privateKey)
        let ring = try KeyRing(signing: signing)
        let kid = signing.id.rawValue
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(backing: privateKey), kid: JWKIdentifier(string: kid))

        let now = Int64(Date().timeIntervalSince1970)
        let validator = AccessTokenValidator(issuer: "https://auth.example.com", audience: "https://api.example.com", leeway: 30)
        func claims(_ index: Int) -> AccessTokenClaims {
            AccessTokenClaims(
                iss: validator.issuer, sub: UUID().uuidString.lowercased(), aud: validator.audience, exp: now + 900, nbf: now,
                iat: now, jti: "jti-\(index)-\(UUID().uuidString)", sid: UUID().uuidString.lowercased(), clientID: "game",
                amr: ["device"], anon: true, tv: 0, ent: nil)
        }
        func jwtKitClaims(_ c: AccessTokenClaims) -> JWTKitClaims {
            JWTKitClaims(
                iss: .init(value: c.iss), sub: .init(value: c.sub), aud: .init(value: [c.aud]),
                exp: .init(value: Date(timeIntervalSince1970: TimeInterval(c.exp))),
                nbf: .init(value: Date(timeIntervalSince1970: TimeInterval(c.nbf))),
                iat: .init(value: Date(timeIntervalSince1970: TimeInterval(c.iat))), jti: .init(value: c.jti), sid: c.sid,
                client_id: c.clientID, amr: c.amr, anon: c.anon, tv: c.tv)
        }
        let header = JWTHeader(fields: ["typ": .string("at+jwt")])
        let inputs = (0..<perRound).map(claims)
        let jwtKitInputs = inputs.map(jwtKitClaims)

        // Both sides must do the real work: each verifies its own tokens, and refuses a tampered one.
        let ownToken = try ring.sign(inputs[0])
        let jwtKitToken = try await keys.sign(jwtKitInputs[0], kid: JWKIdentifier(string: kid), header: header)
        guard try ring.verifySignature(ownToken) == inputs[0],
              try await keys.verify(jwtKitToken, as: JWTKitClaims.self) == jwtKitInputs[0]
        else { fatalError("a side does not verify its own token") }
        let tampered = { (token: String) in String(token.dropLast(2)) + (token.hasSuffix("AA") ? "BB" : "AA") }
        guard (try? ring.verifySignature(tampered(ownToken))) == nil,
              (try? await keys.verify(tampered(jwtKitToken), as: JWTKitClaims.self)) == nil
        else { fatalError("a side accepts a tampered token") }

        var results: [String: [Double]] = [:]
        var ownTokens: [String] = []
        var jwtKitTokens: [String] = []
        for _ in 0..<rounds {
            var start = ContinuousClock.now
            ownTokens = try inputs.map { try ring.sign($0) }
            results["tegata sign", default: []].append(rate(perRound, since: start))

            start = ContinuousClock.now
            var signed: [String] = []
            signed.reserveCapacity(perRound)
            for input in jwtKitInputs { signed.append(try await keys.sign(input, kid: JWKIdentifier(string: kid), header: header)) }
            jwtKitTokens = signed
            results["jwt-kit sign", default: []].append(rate(perRound, since: start))

            start = ContinuousClock.now
            let verifyNow = Date()
            for token in ownTokens {
                try validator.validate(try ring.verifySignature(token), now: verifyNow)
            }
            results["tegata verify", default: []].append(rate(perRound, since: start))

            start = ContinuousClock.now
            for token in jwtKitTokens { _ = try await keys.verify(token, as: JWTKitClaims.self) }
            results["jwt-kit verify", default: []].append(rate(perRound, since: start))
        }

        print("ES256 access tokens, \(rounds) rounds of \(perRound), medians (tokens per second, one thread):")
        for name in ["tegata sign", "jwt-kit sign", "tegata verify", "jwt-kit verify"] {
            print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%10.0f /s", median(results[name]!)))
        }
        let signRatio = median(results["tegata sign"]!) / median(results["jwt-kit sign"]!)
        let verifyRatio = median(results["tegata verify"]!) / median(results["jwt-kit verify"]!)
        print(String(format: "  tegata/jwt-kit: sign %.2fx, verify %.2fx", signRatio, verifyRatio))
        print("  token bytes: tegata \(ownTokens[0].utf8.count), jwt-kit \(jwtKitTokens[0].utf8.count)")
        if arguments.contains("--show") { print(ownTokens[0]); print(jwtKitTokens[0]) }
    }

    static func rate(_ count: Int, since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(count) / seconds
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
