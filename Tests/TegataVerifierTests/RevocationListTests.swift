import Foundation
import TegataTokens
import TegataVerifier
import TegataWire
import Testing

/// The revocation list, pure.
@Suite struct RevocationListTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func claims(sub: String = "u1", sid: String = "s1", jti: String = "j1", tv: Int64 = 0) -> AccessTokenClaims {
        AccessTokenClaims(
            iss: "https://auth.example.com", sub: sub, aud: "https://auth.example.com", exp: 1_800_000_900, nbf: 1_800_000_000,
            iat: 1_800_000_000, jti: jti, sid: sid, clientID: "tegata", amr: ["device"], anon: true, tv: tv, ent: nil)
    }

    @Test func eachKindOfEventRevokesExactlyItsTokens() {
        var list = RevocationList()
        list.apply([
            FeedEvent(type: "session", sid: "s1", until: Self.t0 + 900),
            FeedEvent(type: "user", sub: "u2", tv: 3, until: Self.t0 + 900),
            FeedEvent(type: "token", jti: "j9", until: Self.t0 + 900),
        ])
        #expect(list.revokes(Self.claims(sid: "s1")))
        #expect(!list.revokes(Self.claims(sid: "s2")))
        #expect(list.revokes(Self.claims(sub: "u2", sid: "s5", tv: 2)))
        #expect(!list.revokes(Self.claims(sub: "u2", sid: "s5", tv: 3)))  // issued after the move
        #expect(!list.revokes(Self.claims(sub: "u3", sid: "s5", tv: 0)))
        #expect(list.revokes(Self.claims(sid: "s7", jti: "j9")))
        #expect(list.count == 3)
    }

    @Test func aUsersFloorOnlyRises() {
        var list = RevocationList()
        list.apply([FeedEvent(type: "user", sub: "u", tv: 5, until: Self.t0 + 900)])
        list.apply([FeedEvent(type: "user", sub: "u", tv: 4, until: Self.t0 + 100)])  // an older event replayed
        #expect(list.revokes(Self.claims(sub: "u", tv: 4)))
        #expect(!list.revokes(Self.claims(sub: "u", tv: 5)))
        list.prune(now: Self.t0 + 500)  // the longer `until` is kept
        #expect(list.revokes(Self.claims(sub: "u", tv: 4)))
    }

    @Test func entriesAreDroppedOnceNoTokenTheyAffectCanBeValid() {
        var list = RevocationList()
        list.apply([
            FeedEvent(type: "session", sid: "s1", until: Self.t0 + 100),
            FeedEvent(type: "token", jti: "j1", until: Self.t0 + 300),
            FeedEvent(type: "user", sub: "u1", tv: 1, until: Self.t0 + 200),
        ])
        list.prune(now: Self.t0 + 150)
        #expect(list.count == 2)
        list.prune(now: Self.t0 + 301)
        #expect(list.count == 0)
    }

    @Test func unknownOrIncompleteEventsAreIgnored() {
        var list = RevocationList()
        list.apply([
            FeedEvent(type: "device", sid: "s1", until: Self.t0 + 100),
            FeedEvent(type: "user", sub: "u1", until: Self.t0 + 100),  // no tv
            FeedEvent(type: "session", until: Self.t0 + 100),  // no sid
        ])
        #expect(list.count == 0)
        #expect(!list.revokes(Self.claims()))
    }
}
