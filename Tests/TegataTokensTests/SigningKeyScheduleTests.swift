import Foundation
import TegataTokens
import TegataWire
import Testing

@Suite struct SigningKeyScheduleTests {
    let old = SigningKey.generate()
    let new = SigningKey.generate()
    let start = Date(timeIntervalSince1970: 1_000)

    private func kids(_ ring: KeyRing) -> [String] { ring.jwks.keys.map(\.kid) }

    @Test func aRotationPublishesFirstSignsLaterAndRetiresTheOldKeyAfterItsTokensExpire() throws {
        // Rotated at 2000: the new key waits 300 s; the old one stays 930 s after it stopped signing.
        let schedule = SigningKeySchedule(
            keys: [ScheduledSigningKey(key: old, activatesAt: start),
                   ScheduledSigningKey(key: new, activatesAt: Date(timeIntervalSince1970: 2_300))],
            retention: 930)
        let waiting = try schedule.ring(at: Date(timeIntervalSince1970: 2_000))
        #expect(waiting.ring.currentKeyID == old.id, "the old key signs until the new one's time")
        #expect(kids(waiting.ring) == [old.id.rawValue, new.id.rawValue], "the new key is published at once")
        #expect(waiting.validUntil == Date(timeIntervalSince1970: 2_300))
        #expect(schedule.pending(at: Date(timeIntervalSince1970: 2_000)).map(\.key.id) == [new.id])

        let switched = try schedule.ring(at: Date(timeIntervalSince1970: 2_300))
        #expect(switched.ring.currentKeyID == new.id)
        #expect(kids(switched.ring) == [new.id.rawValue, old.id.rawValue], "the old key still verifies its tokens")
        #expect(switched.validUntil == Date(timeIntervalSince1970: 3_230))
        #expect(schedule.retired(at: Date(timeIntervalSince1970: 3_229)).isEmpty)

        let retired = try schedule.ring(at: Date(timeIntervalSince1970: 3_230))
        #expect(kids(retired.ring) == [new.id.rawValue], "gone once every token it signed has expired")
        #expect(retired.validUntil == .distantFuture)
        #expect(schedule.retired(at: Date(timeIntervalSince1970: 3_230)) == [old.id])
        #expect(schedule.pending(at: Date(timeIntervalSince1970: 3_230)).isEmpty)
    }

    @Test func tokensSignedBeforeTheSwitchVerifyAfterIt() throws {
        let schedule = SigningKeySchedule(
            keys: [ScheduledSigningKey(key: old, activatesAt: start), ScheduledSigningKey(key: new, activatesAt: start + 10)],
            retention: 60)
        let claims = AccessTokenClaims(
            iss: "https://auth.example", sub: "u", aud: "https://auth.example", exp: 2_000, nbf: 1_000, iat: 1_000,
            jti: "j", sid: "s", clientID: "tegata", amr: ["device"], anon: true, tv: 0, ent: nil)
        let before = try schedule.ring(at: start + 5).ring.sign(claims)
        let after = try schedule.ring(at: start + 20).ring
        #expect(try after.verifySignature(before) == claims)
        #expect(try after.verifySignature(after.sign(claims)) == claims)
        #expect(throws: AccessTokenError.self) { try schedule.ring(at: start + 70).ring.verifySignature(before) }
    }

    @Test func theLaterRotationWinsAtTheSameInstant() throws {
        let schedule = SigningKeySchedule(
            keys: [ScheduledSigningKey(key: old, activatesAt: start), ScheduledSigningKey(key: new, activatesAt: start)],
            retention: 60)
        #expect(try schedule.ring(at: start).ring.currentKeyID == new.id)
        #expect(try schedule.ring(at: start).validUntil == start + 60)
    }

    @Test func aClockBeforeEveryActivationStillSignsWithTheEarliestKey() throws {
        let schedule = SigningKeySchedule(keys: [ScheduledSigningKey(key: old, activatesAt: start)], retention: 60)
        let ring = try schedule.ring(at: start - 3_600).ring
        #expect(ring.currentKeyID == old.id)
        #expect(kids(ring) == [old.id.rawValue])
    }

    @Test func threeGenerationsKeepOnlyWhatStillMatters() throws {
        let third = SigningKey.generate()
        let schedule = SigningKeySchedule(
            keys: [ScheduledSigningKey(key: old, activatesAt: start), ScheduledSigningKey(key: new, activatesAt: start + 100),
                   ScheduledSigningKey(key: third, activatesAt: start + 120)],
            retention: 50)
        // At 130: `third` signs, `new` stopped at 120 (published until 170), `old` stopped at 100 (until 150).
        let ring = try schedule.ring(at: start + 130)
        #expect(ring.ring.currentKeyID == third.id)
        #expect(Set(kids(ring.ring)) == Set([old, new, third].map(\.id.rawValue)))
        #expect(ring.validUntil == start + 150)
        #expect(Set(try schedule.ring(at: start + 160).ring.jwks.keys.map(\.kid)) == Set([new, third].map(\.id.rawValue)))
        #expect(schedule.retired(at: start + 160) == [old.id])
    }
}
