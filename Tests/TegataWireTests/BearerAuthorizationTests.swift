import Foundation
import TegataWire
import Testing

/// The one reading of `Authorization: Bearer` and the one writing of its challenges, shared by the
/// server and the verifier's middleware.
@Suite struct BearerAuthorizationTests {
    @Test func aBearerTokenIsReadWithoutItsSurroundingWhitespace() {
        #expect(BearerAuthorization(fieldValues: ["Bearer abc.def.ghi"]) == .token("abc.def.ghi"))
        #expect(BearerAuthorization(fieldValues: ["bearer abc"]) == .token("abc"), "the scheme is case-insensitive")
        #expect(BearerAuthorization(fieldValues: ["BEARER \t abc \t"]) == .token("abc"))
        #expect(BearerAuthorization(fieldValues: ["  Bearer abc"]) == .token("abc"))
        #expect(BearerAuthorization(fieldValues: ["Bearer a b"]) == .token("a b"), "inner whitespace is the token's (and fails its verification)")
        #expect(BearerAuthorization(fieldValues: ["Bearer ✓"]) == .token("✓"))
        let longest = String(repeating: "a", count: BearerAuthorization.maximumTokenLength)
        #expect(BearerAuthorization(fieldValues: ["Bearer " + longest]) == .token(longest))
    }

    @Test func anythingElseIsNamedForWhatItIs() {
        #expect(BearerAuthorization(fieldValues: []) == .absent)
        for value in ["", "   ", "Bearer", "Bearer   ", "Basic YTpi", "Bearerabc", "Bear abc", "Bearer\u{0}abc", "DPoP", "DPoPabc", "DPo abc"] {
            #expect(BearerAuthorization(fieldValues: [value]) == .otherScheme, "\(value.debugDescription)")
        }
        #expect(BearerAuthorization(fieldValues: ["Bearer a", "Bearer a"]) == .repeated)
        #expect(BearerAuthorization(fieldValues: ["Bearer " + String(repeating: "a", count: BearerAuthorization.maximumTokenLength + 1)]) == .malformed)
    }

    @Test func aDPoPTokenIsReadLikeABearerToken() {
        #expect(BearerAuthorization(fieldValues: ["DPoP abc.def.ghi"]) == .dpop("abc.def.ghi"))
        #expect(BearerAuthorization(fieldValues: ["dpop \t abc "]) == .dpop("abc"), "the scheme is case-insensitive")
        #expect(BearerAuthorization(fieldValues: ["DPoP " + String(repeating: "a", count: BearerAuthorization.maximumTokenLength + 1)]) == .malformed)
        #expect(DPoPChallenge.header() == #"DPoP algs="ES256""#)
        #expect(DPoPChallenge.header(error: .useDPoPNonce, description: "a \"nonce\"")
            == #"DPoP error="use_dpop_nonce", error_description="a nonce", algs="ES256""#)
    }

    @Test func challengesAreWrittenOneWay() {
        #expect(BearerChallenge.header(realm: "tegata") == #"Bearer realm="tegata""#)
        #expect(BearerChallenge.header(realm: "orders", error: .invalidToken) == #"Bearer realm="orders", error="invalid_token""#)
        #expect(BearerChallenge.header(realm: nil, error: .invalidToken, description: "the \"token\" \\ expired\n")
            == #"Bearer error="invalid_token", error_description="the token  expired""#,
            "quotes, backslashes and control characters cannot break out of the quoted string")
        #expect(BearerChallenge.header(realm: "a\"b") == #"Bearer realm="ab""#)
    }

    @Test func theErrorBodyWritesWhatTheEncoderWrites() throws {
        for body in [
            ErrorBody(error: .invalidToken, errorDescription: "the access token is \"malformed\" \\ \u{1}"),
            ErrorBody(error: .rateLimited, errorDescription: nil),
            ErrorBody(error: .invalidRequest, errorDescription: "ünïcode ✓ /slash"),
        ] {
            let encoded = try WireCoding.makeEncoder().encode(body)
            #expect(body.jsonBytes == Array(encoded), "\(String(decoding: encoded, as: UTF8.self))")
        }
    }
}
