import Foundation
import Testing
@testable import TegataClient
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Expiry and renewal arithmetic, pure.
@Suite struct TokenTimingTests {
    /// An unsigned JWT with the given `exp` (the client never checks signatures).
    static func jwt(exp: TimeInterval) -> String {
        let payload = try! JSONSerialization.data(withJSONObject: ["exp": exp, "sub": "u"])
        let segment = payload.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "eyJhbGciOiJFUzI1NiJ9.\(segment).c2ln"
    }

    let received = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func withoutADateHeaderTheLifetimeCounts() {
        let token = Self.jwt(exp: 1_800_000_900)
        #expect(TokenTiming.localExpiry(accessToken: token, expiresIn: 900, receivedAt: received, serverDate: nil)
                == received.addingTimeInterval(900))
    }

    @Test func aDeviceClockAnHourAheadOrBehindGetsTheSameLifetime() {
        // Server time 1_800_000_000, token exp 900 s later; the device's clock is ±3600 s off.
        for offset in [-3600.0, 3600] {
            let local = received.addingTimeInterval(offset)
            let expiry = TokenTiming.localExpiry(
                accessToken: Self.jwt(exp: 1_800_000_900), expiresIn: 900, receivedAt: local, serverDate: received)
            #expect(expiry == local.addingTimeInterval(900))
        }
    }

    @Test func aResponseDelayedInFlightExpiresByTheServersClock() {
        // Issued at server time T with 900 s; it reached the device 20 s later (by the Date header).
        let lateArrival = received.addingTimeInterval(20)
        let expiry = TokenTiming.localExpiry(
            accessToken: Self.jwt(exp: 1_800_000_900), expiresIn: 900, receivedAt: lateArrival,
            serverDate: received.addingTimeInterval(20))
        #expect(expiry == received.addingTimeInterval(900))
        // Without the skew measurement the client would have kept it 20 s too long.
        #expect(expiry < lateArrival.addingTimeInterval(900))
    }

    @Test func anUnreadableTokenFallsBackToTheLifetime() {
        #expect(TokenTiming.localExpiry(accessToken: "opaque", expiresIn: 60, receivedAt: received, serverDate: received)
                == received.addingTimeInterval(60))
        #expect(TokenTiming.expiryClaim(of: "a.%%%.c") == nil)
        #expect(TokenTiming.expiryClaim(of: Self.jwt(exp: 42)) == Date(timeIntervalSince1970: 42))
    }

    @Test func theMarginIsAtMostHalfTheLifetime() {
        func session(lifetime: TimeInterval) -> SessionCredentials {
            SessionCredentials(
                accessToken: "t", accessTokenReceivedAt: received, accessTokenExpiresAt: received.addingTimeInterval(lifetime),
                refreshToken: "r", user: .init(id: "u", anon: true, createdAt: received))
        }
        let long = session(lifetime: 900)
        #expect(!TokenTiming.needsRenewal(long, now: received.addingTimeInterval(839), margin: 60))
        #expect(TokenTiming.needsRenewal(long, now: received.addingTimeInterval(840), margin: 60))
        let short = session(lifetime: 30)
        #expect(!TokenTiming.needsRenewal(short, now: received.addingTimeInterval(14), margin: 60))
        #expect(TokenTiming.needsRenewal(short, now: received.addingTimeInterval(15), margin: 60))
    }

    @Test func theDateHeaderIsParsedAsIMFFixdate() throws {
        let response = try #require(HTTPURLResponse(
            url: URL(string: "http://x")!, statusCode: 200, httpVersion: nil,
            headerFields: ["Date": "Sun, 06 Nov 1994 08:49:37 GMT"]))
        #expect(TokenTiming.serverDate(response) == Date(timeIntervalSince1970: 784_111_777))
        let bad = try #require(HTTPURLResponse(url: URL(string: "http://x")!, statusCode: 200, httpVersion: nil, headerFields: ["Date": "yesterday"]))
        #expect(TokenTiming.serverDate(bad) == nil)
    }
}
