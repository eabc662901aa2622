import Foundation
import TegataTokens
import Testing

@Suite struct AccessTokenValidatorTests {
    let validator = AccessTokenValidator(issuer: "https://auth.example", audience: "api", leeway: 30)
    let iat: Int64 = 1_800_000_000

    func claims(exp: Int64? = nil, nbf: Int64? = nil, iat: Int64? = nil, iss: String = "https://auth.example", aud: String = "api") -> AccessTokenClaims {
        let issued = iat ?? self.iat
        return AccessTokenClaims(
            iss: iss, sub: "u", aud: aud, exp: exp ?? issued + 900, nbf: nbf ?? issued, iat: issued, jti: "j", sid: "s",
            clientID: "c", amr: ["device"], anon: true, tv: 0, ent: nil)
    }

    func at(_ seconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }

    @Test func acceptsAValidToken() throws {
        try validator.validate(claims(), now: at(iat + 10))
    }

    @Test func expiryHonoursTheLeewayExactly() throws {
        try validator.validate(claims(), now: at(iat + 900 + 29))
        #expect(throws: AccessTokenError.expired) { try validator.validate(claims(), now: at(iat + 900 + 30)) }
    }

    @Test func notBeforeAndIssuedAtInTheFutureAreRejectedBeyondTheLeeway() throws {
        try validator.validate(claims(nbf: iat + 30), now: at(iat))
        #expect(throws: AccessTokenError.notYetValid) { try validator.validate(claims(nbf: iat + 31), now: at(iat)) }
        try validator.validate(claims(nbf: iat, iat: iat + 30), now: at(iat))
        #expect(throws: AccessTokenError.issuedInFuture) { try validator.validate(claims(nbf: iat, iat: iat + 31), now: at(iat)) }
    }

    @Test func issuerAndAudienceMustMatchExactly() {
        #expect(throws: AccessTokenError.wrongIssuer) { try validator.validate(claims(iss: "https://auth.example/"), now: at(iat)) }
        #expect(throws: AccessTokenError.wrongIssuer) { try validator.validate(claims(iss: "https://evil.example"), now: at(iat)) }
        #expect(throws: AccessTokenError.wrongAudience) { try validator.validate(claims(aud: "other"), now: at(iat)) }
    }

    @Test func errorTextsNeverContainTheToken() {
        let all: [AccessTokenError] = [.malformed, .unsupportedAlgorithm, .wrongType, .unknownKey, .badSignature, .expired,
                                       .notYetValid, .issuedInFuture, .wrongIssuer, .wrongAudience]
        #expect(Set(all.map(\.description)).count == all.count)
        #expect(all.allSatisfy { !$0.description.contains("eyJ") })
    }
}
