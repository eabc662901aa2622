import Foundation
import TegataCore
import TegataWire
import Testing

@Suite struct SessionLifetimeTests {
    let policy = SessionPolicy(idleLifetime: 100, absoluteLifetime: 1_000)
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func session(lastRefreshed: TimeInterval = 0, revoked: Bool = false) -> Session {
        Session(
            id: UUID().uuidString.lowercased(), userID: "u", deviceID: "d", platform: "ios", amr: ["device"], clientID: "c",
            createdAt: start, lastRefreshedAt: start.addingTimeInterval(lastRefreshed), generation: 0,
            absoluteExpiresAt: start.addingTimeInterval(1_000), revokedAt: revoked ? start : nil)
    }

    @Test func idleAbsoluteAndRevokedEndTheSession() {
        #expect(session().isLive(at: start.addingTimeInterval(99), policy: policy))
        #expect(!session().isLive(at: start.addingTimeInterval(100), policy: policy), "idle")
        #expect(session(lastRefreshed: 950).isLive(at: start.addingTimeInterval(999), policy: policy))
        #expect(!session(lastRefreshed: 950).isLive(at: start.addingTimeInterval(1_000), policy: policy), "absolute")
        #expect(!session(revoked: true).isLive(at: start, policy: policy), "revoked")
    }

    @Test func refreshExpiryIsTheIdleEndCappedByTheAbsoluteEnd() {
        #expect(session().refreshExpiry(policy: policy) == start.addingTimeInterval(100))
        #expect(session(lastRefreshed: 950).refreshExpiry(policy: policy) == start.addingTimeInterval(1_000))
    }
}

@Suite struct EntitlementClaimTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func keepsOnlyEntitlementsInForceInCompactForm() {
        let claim = Entitlement.claim(from: [
            Entitlement(name: "membership", expiresAt: nil),
            Entitlement(name: "pro", expiresAt: now.addingTimeInterval(60.9)),
            Entitlement(name: "old", expiresAt: now),
            Entitlement(name: "older", expiresAt: now.addingTimeInterval(-1)),
        ], at: now)
        #expect(claim == ["membership": .unlimited, "pro": .until(1_800_000_060)])
    }

    @Test func duplicatesKeepTheLongestGrant() {
        let claim = Entitlement.claim(from: [
            Entitlement(name: "pro", expiresAt: now.addingTimeInterval(10)),
            Entitlement(name: "pro", expiresAt: now.addingTimeInterval(20)),
            Entitlement(name: "vip", expiresAt: nil),
            Entitlement(name: "vip", expiresAt: now.addingTimeInterval(20)),
        ], at: now)
        #expect(claim == ["pro": .until(1_800_000_020), "vip": .unlimited])
    }

    @Test func encodesAsTheContractShows() throws {
        let data = try WireCoding.makeEncoder().encode(["membership": EntitlementGrant.unlimited, "pro": .until(1_730_000_000)])
        #expect(String(decoding: data, as: UTF8.self) == #"{"membership":true,"pro":{"expires_at":1730000000}}"#)
        let back = try WireCoding.makeDecoder().decode([String: EntitlementGrant].self, from: data)
        #expect(back == ["membership": .unlimited, "pro": .until(1_730_000_000)])
        #expect(throws: (any Error).self) { try JSONDecoder().decode(EntitlementGrant.self, from: Data("false".utf8)) }
    }
}

@Suite struct TegataErrorTests {
    @Test func codesAreTheFrozenStrings() {
        let cases: [(TegataError, String)] = [
            (.invalidRequest("x"), "invalid_request"), (.invalidGrant("x"), "invalid_grant"),
            (.wrongCredentials("x"), "invalid_grant"), (.invalidClient("x"), "invalid_client"),
            (.unsupportedGrantType("x"), "unsupported_grant_type"), (.invalidToken("x"), "invalid_token"),
            (.missingToken, "invalid_token"), (.forbidden("x"), "forbidden"), (.notFound("x"), "not_found"),
            (.conflict("x"), "conflict"), (.payloadTooLarge(limit: 1), "payload_too_large"),
            (.rateLimited(retryAfterSeconds: 3), "rate_limited"), (.serverError, "server_error"),
            (.serviceUnavailable("x"), "server_error"),
        ]
        for (error, code) in cases { #expect(error.code.rawValue == code) }
        #expect(TegataError.missingToken.isMissingCredentials && !TegataError.invalidToken("x").isMissingCredentials)
        #expect(TegataError.rateLimited(retryAfterSeconds: 3).retryAfterSeconds == 3)
    }
}

@Suite struct ManualClockTests {
    @Test func movesOnlyWhenTold() {
        let clock = ManualClock(Date(timeIntervalSince1970: 100))
        #expect(clock.now() == Date(timeIntervalSince1970: 100))
        clock.advance(by: 50)
        #expect(clock.now() == Date(timeIntervalSince1970: 150))
        clock.set(Date(timeIntervalSince1970: 7))
        #expect(clock.now() == Date(timeIntervalSince1970: 7))
    }
}
