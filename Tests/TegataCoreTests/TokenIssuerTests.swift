import Crypto
import Foundation
import TegataCore
import TegataTokens
import TegataWire
import Testing

@Suite struct TokenIssuerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000.7)

    func issuer() async throws -> TokenIssuer {
        let policy = TokenPolicy(
            issuer: "https://auth.example", audience: "api", clientID: "app", accessTokenLifetime: 600,
            sessions: SessionPolicy(idleLifetime: 3_600, absoluteLifetime: 7_200))
        return TokenIssuer(keys: try ServerKeys(configured: { [key = SigningKey.generate()] in [key] }), secrets: ServerSecrets(masterKey: SymmetricKey(size: .bits256)), policy: policy)
    }

    func record(entitlements: [Entitlement] = [], tv: Int64 = 3) -> UserRecord {
        UserRecord(user: User(id: "user-1", anon: true, createdAt: now, tokenVersion: tv), identities: [], entitlements: entitlements)
    }

    func session(generation: Int64 = 0, lastRefreshed: Date? = nil) -> Session {
        Session(id: UUID().uuidString.lowercased(), userID: "user-1", deviceID: "device-01", platform: "ios", amr: ["device"],
                clientID: "app", createdAt: now, lastRefreshedAt: lastRefreshed ?? now, generation: generation,
                absoluteExpiresAt: now.addingTimeInterval(7_200), revokedAt: nil)
    }

    @Test func claimsCarryEverythingTheContractLists() async throws {
        let issuer = try await issuer()
        let session = session()
        let claims = issuer.claims(for: record(), session: session, now: now)
        #expect(claims.iss == "https://auth.example" && claims.aud == "api" && claims.sub == "user-1")
        #expect(claims.iat == 1_800_000_000 && claims.nbf == claims.iat && claims.exp == claims.iat + 600)
        #expect(claims.sid == session.id && claims.clientID == "app" && claims.amr == ["device"])
        #expect(claims.anon && claims.tv == 3 && claims.ent == nil)
        #expect(issuer.claims(for: record(), session: session, now: now).jti != claims.jti, "jti is unique")
    }

    @Test func entitlementsInForceAreCarried() async throws {
        let issuer = try await issuer()
        let claims = issuer.claims(
            for: record(entitlements: [Entitlement(name: "pro", expiresAt: nil), Entitlement(name: "gone", expiresAt: now)]),
            session: session(), now: now)
        #expect(claims.ent == ["pro": .unlimited])
    }

    @Test func tokenResponseRecomputesTheSessionsCurrentRefreshToken() async throws {
        let issuer = try await issuer()
        let session = session(generation: 5, lastRefreshed: now.addingTimeInterval(-3_000))
        let response = try await issuer.tokenResponse(for: record(), session: session, now: now)
        #expect(response.tokenType == "Bearer" && response.expiresIn == 600)
        #expect(response.refreshExpiresIn == 600, "idle end: last refresh + 3600 s")
        let decoded = RefreshToken.decode(response.refreshToken, with: issuer.secrets.refreshTokenKey)
        #expect(decoded == RefreshToken(sessionID: UUID(uuidString: session.id)!, generation: 5))
        #expect(try issuer.refreshToken(for: session) == response.refreshToken)
        #expect(try issuer.keys.ring(at: Date()).verifySignature(response.accessToken).sid == session.id)
    }
}

@Suite struct RandomIDTests {
    @Test func isALowerCaseVersion4UUIDAndNeverRepeats() throws {
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let id = RandomID.uuid()
            let parsed = try #require(UUID(uuidString: id))
            #expect(parsed.uuidString.lowercased() == id)
            let bytes = withUnsafeBytes(of: parsed.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 4)
            #expect(bytes[8] >> 6 == 0b10)
            seen.insert(id)
        }
        #expect(seen.count == 2_000)
    }

    @Test func aTimeOrderedIDIsAVersion7UUIDWhoseTextSortsByItsMillisecond() throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000.123)
        var previous = ""
        var seen = Set<String>()
        for step in 0..<2_000 {
            // 2 ms apart: a Double of 1.8e9 s cannot be stepped by exactly 1 ms.
            let now = start.addingTimeInterval(Double(step) * 0.002)
            let id = RandomID.timeOrderedUUID(now: now)
            let parsed = try #require(UUID(uuidString: id))
            #expect(parsed.uuidString.lowercased() == id)
            let bytes = withUnsafeBytes(of: parsed.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 7 && bytes[8] >> 6 == 0b10)
            let milliseconds = bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            #expect(milliseconds == UInt64((now.timeIntervalSince1970 * 1000).rounded(.down)))
            #expect(id > previous, "a later millisecond sorts after, as text too (a B-tree's order)")
            previous = id
            seen.insert(id)
        }
        // Within one millisecond the 74 random bits still make every id distinct.
        for _ in 0..<2_000 { seen.insert(RandomID.timeOrderedUUID(now: start)) }
        #expect(seen.count == 4_000)
    }
}
