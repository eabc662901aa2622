import Crypto
import Foundation
import TegataCore
import Testing

/// Server nonces: stateless, so every replica with the same master key accepts every other's.
@Suite struct DPoPNonceTests {
    let key = SymmetricKey(size: .bits256)
    let start = Date(timeIntervalSince1970: 1_800_000_000)  // a multiple of 300

    @Test func aNonceIsAcceptedForOneToTwoPeriods() throws {
        let nonces = DPoPNonces(key: key, period: 300)
        let nonce = nonces.nonce(at: start)
        #expect(nonces.nonce(at: start.addingTimeInterval(299)) == nonce, "one nonce per period")
        #expect(nonces.nonce(at: start.addingTimeInterval(300)) != nonce)
        #expect(nonces.acceptedUntil(nonce, at: start) == start.addingTimeInterval(600))
        #expect(nonces.acceptedUntil(nonce, at: start.addingTimeInterval(599)) != nil, "the previous period's nonce still works")
        #expect(nonces.acceptedUntil(nonce, at: start.addingTimeInterval(600)) == nil, "stale")
        #expect(nonces.acceptedUntil(nonces.nonce(at: start.addingTimeInterval(300)), at: start) == nil, "a future slot")
    }

    @Test func anotherReplicaWithTheSameKeyAcceptsItAndForgeriesFail() throws {
        let nonce = DPoPNonces(key: key).nonce(at: start)
        #expect(DPoPNonces(key: key).acceptedUntil(nonce, at: start) != nil)
        #expect(DPoPNonces(key: SymmetricKey(size: .bits256)).acceptedUntil(nonce, at: start) == nil, "another master key")
        var bytes = try #require(Data(base64Encoded: nonce.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "===".prefix((4 - nonce.count % 4) % 4)))
        bytes[bytes.count - 1] ^= 1
        let forged = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        #expect(DPoPNonces(key: key).acceptedUntil(forged, at: start) == nil)
        for junk in ["", "x", String(repeating: "A", count: 32), "not base64!"] {
            #expect(DPoPNonces(key: key).acceptedUntil(junk, at: start) == nil)
        }
    }
}
