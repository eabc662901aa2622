import Foundation
import TegataCore
import TegataTokens
import Testing

@Suite struct VerifiedTokenCacheTests {
    func claims(exp: Int64) -> AccessTokenClaims {
        AccessTokenClaims(iss: "i", sub: "s", aud: "a", exp: exp, nbf: 0, iat: 0, jti: "j", sid: "x", clientID: "c",
                          amr: [], anon: true, tv: 0, ent: nil)
    }

    @Test func remembersByTheWholeTokenAndStaysBounded() {
        let cache = VerifiedTokenCache(capacity: 3)
        let now = Date(timeIntervalSince1970: 1_000)
        cache.insert("a.b.c", claims: claims(exp: 900), now: now)   // already expired
        cache.insert("a.b.d", claims: claims(exp: 2_000), now: now)
        cache.insert("a.b.e", claims: claims(exp: 2_000), now: now)
        #expect(cache.claims(for: "a.b.d")?.exp == 2_000)
        #expect(cache.claims(for: "a.b.X") == nil, "a different signature is a different token")
        cache.insert("a.b.f", claims: claims(exp: 2_000), now: now)  // full: the expired entry goes
        #expect(cache.count == 3 && cache.claims(for: "a.b.c") == nil && cache.claims(for: "a.b.f") != nil)
        cache.insert("a.b.g", claims: claims(exp: 2_000), now: now)  // full of live entries: everything goes
        #expect(cache.count == 1 && cache.claims(for: "a.b.g") != nil)
    }

    @Test func aZeroCapacityCachesNothing() {
        let cache = VerifiedTokenCache(capacity: 0)
        cache.insert("a.b.c", claims: claims(exp: 2_000), now: Date(timeIntervalSince1970: 0))
        #expect(cache.claims(for: "a.b.c") == nil)
    }
}
