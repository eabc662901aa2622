import Foundation
import TegataTokens
import TegataWire
import Testing

/// The hand-written JSON of the hot-path shapes must be byte for byte what JSONEncoder writes.
@Suite struct JSONWriterTests {
    static let awkward = [
        "", "plain", "with \"quotes\" and \\backslash\\", "https://a.example/p?q=1", "é 漢字 🎮",
        String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }) + "\u{7f}\u{2028}",
    ]
    static let dates = [
        Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_800_000_000.999),
        Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
        Date(timeIntervalSince1970: 4_102_444_799),  // 2099-12-31T23:59:59Z
    ]

    private func expectSameBytes(_ value: some JSONWritable, encoder: JSONEncoder = WireCoding.makeEncoder()) throws {
        let expected = try encoder.encode(value)
        #expect(value.jsonBytes == Array(expected), "\(String(decoding: expected, as: UTF8.self))")
    }

    @Test func tokenResponses() throws {
        for (text, date) in zip(Self.awkward, Self.dates + Self.dates) {
            for anon in [true, false] {
                for issued in [nil, TokenResponse.accessTokenType] {
                    try expectSameBytes(TokenResponse(
                        accessToken: "a.b.c" + text, tokenType: "Bearer", expiresIn: 900, refreshToken: text,
                        refreshExpiresIn: -1, user: UserSummary(id: text, anon: anon, createdAt: date), issuedTokenType: issued))
                }
            }
        }
    }

    @Test func meResponses() throws {
        let grants: [[String: EntitlementGrant]] = [
            [:], ["pro": .unlimited], ["pro": .until(1_900_000_000), "ads_free": .unlimited, "z\"q": .until(-5)],
        ]
        for (index, text) in Self.awkward.enumerated() {
            let identities = (0..<(index % 3)).map { IdentitySummary(provider: "p\($0)", subject: text + "\($0)") }
            try expectSameBytes(MeResponse(
                id: text, anon: index % 2 == 0, createdAt: Self.dates[index % Self.dates.count],
                identities: identities, ent: grants[index % grants.count]))
        }
    }

    @Test func accessTokenClaims() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (index, text) in Self.awkward.enumerated() {
            let claims = AccessTokenClaims(
                iss: "https://auth.example/" + text, sub: text, aud: text, exp: Int64.max, nbf: Int64.min, iat: 0,
                jti: text, sid: "s", clientID: text, amr: index % 2 == 0 ? [] : ["device", text], anon: index % 2 == 0,
                tv: Int64(index), ent: index % 3 == 0 ? nil : ["pro": .unlimited, text: .until(42)])
            try expectSameBytes(claims, encoder: encoder)
            #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: Data(claims.jsonBytes)) == claims)
        }
    }

    static let appClaims: [[String: JSONValue]] = [
        ["roles": .array([.string("admin"), .string("editor")]), "provider": .string("line")],
        ["npln_user_id": .string("0123456789abcdef"), "nsa_id": .integer(-42), "stripe_customer": .null, "pro": .bool(false)],
        // Keys that sort before, between and after Tegata's; nested objects with their own order.
        ["a": .integer(Int64.max), "bb": .object(["z": .integer(1), "a": .array([])]), "tz": .number(1.5), "zz": .object([:])],
        ["score": .number(0.1), "big": .number(1e20), "small": .number(-2.5e-8), "third": .number(1.0 / 3.0)],
        Dictionary(uniqueKeysWithValues: awkward.enumerated().map { ("k\($0.offset)" + $0.element, JSONValue.string($0.element)) }),
    ]

    @Test func accessTokenClaimsWithAppClaims() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (index, app) in Self.appClaims.enumerated() {
            let claims = AccessTokenClaims(
                iss: "https://auth.example", sub: "u", aud: "a", exp: 2, nbf: 1, iat: 1, jti: "j", sid: "s", clientID: "c",
                amr: ["device"], anon: index % 2 == 0, tv: 3, ent: index % 2 == 0 ? nil : ["pro": .until(42)], app: app)
            try expectSameBytes(claims, encoder: encoder)
            #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: Data(claims.jsonBytes)) == claims)
        }
    }

    @Test func jsonValuesReadBackAsWritten() throws {
        for app in Self.appClaims {
            let value = JSONValue.object(app)
            let encoded = try WireCoding.makeEncoder().encode(value)
            #expect(value.description == String(decoding: encoded, as: UTF8.self))
            #expect(try JSONDecoder().decode(JSONValue.self, from: encoded) == value)
        }
        // Integers stay integers; a fraction, an exponent or a number past Int64 is a double.
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("[1, -0, 1.25, 1e3, 9223372036854775808, true, null]".utf8))
                == .array([.integer(1), .integer(0), .number(1.25), .integer(1000), .number(9.223372036854775808e18), .bool(true), .null]))
    }

    @Test func readingATokenPutsEveryOtherUnreservedClaimInApp() throws {
        let json = #"{"amr":[],"anon":true,"aud":"a","client_id":"c","exp":2,"iat":1,"iss":"i","jti":"j","nbf":1,"sid":"s","sub":"u","tv":0,"roles":["x"],"scope":"openid","cnf":{"jkt":"k"}}"#
        let claims = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(json.utf8))
        #expect(claims.app == ["roles": .array([.string("x")])], "reserved names are never app claims")
    }
}
