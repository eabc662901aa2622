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
}
