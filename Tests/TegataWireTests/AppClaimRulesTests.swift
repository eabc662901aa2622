import Foundation
import TegataWire
import Testing

/// What an app claims object may hold: no reserved name, at most 1000 bytes serialised.
@Suite struct AppClaimRulesTests {
    @Test(arguments: AppClaimRules.reservedNames.sorted())
    func aReservedNameIsRefusedByName(name: String) {
        #expect(throws: AppClaimRules.Violation.self) { try AppClaimRules.check([name: .string("x"), "roles": .array([])]) }
        do {
            _ = try AppClaimRules.check([name: .string("x")])
        } catch {
            #expect(error.message.contains("the claim \(name) is reserved"))
        }
    }

    @Test func theClaimsAppsNeedAreAllowed() throws {
        let claims: [String: JSONValue] = [
            "roles": .array([.string("admin")]), "groups": .array([]), "entitlements": .array([]), "provider": .string("line"),
            "npln_user_id": .string("0123"), "nsa_id": .string("n-1"), "stripe_customer_id": .string("cus_123"),
            "apple_user_id": .string("001234.abc"), "display_name": .string("名前"), "Sub": .string("case matters"),
        ]
        let bytes = try AppClaimRules.check(claims)
        #expect(String(decoding: bytes, as: UTF8.self) == JSONValue.object(claims).description)
        #expect(try AppClaimRules.check([:]) == Array("{}".utf8))
    }

    @Test func atMostAThousandBytesSerialised() throws {
        // {"k":"…"} is 8 bytes around the value.
        let fits = ["k": JSONValue.string(String(repeating: "x", count: 992))]
        #expect(try AppClaimRules.check(fits).count == 1000)
        let over = ["k": JSONValue.string(String(repeating: "x", count: 993))]
        do {
            _ = try AppClaimRules.check(over)
            Issue.record("1001 bytes were taken")
        } catch {
            #expect(error.message == "the claims take 1001 bytes serialised; at most 1000 are allowed")
        }
        // Escapes count as written: 200 quotes are 400 bytes.
        #expect(try AppClaimRules.check(["k": .string(String(repeating: "\"", count: 200))]).count == 408)
    }

    @Test func namesAreOneToSixtyFourBytesWithoutControlCharacters() {
        for name in ["", String(repeating: "n", count: 65), "a\u{0}b", "tab\t", "del\u{7f}"] {
            #expect(throws: AppClaimRules.Violation.self, "\(name.debugDescription)") { try AppClaimRules.check([name: .bool(true)]) }
        }
        #expect((try? AppClaimRules.check([String(repeating: "n", count: 64): .bool(true)])) != nil)
    }

    @Test func theStoredFormReadsBack() throws {
        let claims: [String: JSONValue] = ["b": .array([.integer(1), .number(2.5), .null]), "a": .object(["y": .bool(true)])]
        let text = try #require(AppClaimRules.storedText(claims))
        #expect(text == #"{"a":{"y":true},"b":[1,2.5,null]}"#)
        #expect(try AppClaimRules.claims(storedText: text) == claims)
        #expect(AppClaimRules.storedText([:]) == nil)
        #expect(try AppClaimRules.claims(storedText: nil).isEmpty)
    }
}
