import Foundation
@testable import TegataTokens
import Testing

@Suite struct Base64URLTests {
    /// Foundation's standard base64, turned into unpadded base64url: the reference.
    private func reference(_ data: Data) -> String {
        String(data.base64EncodedString().map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }.filter { $0 != "=" })
    }

    @Test func encodesAndDecodesEveryLengthLikeTheReference() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let encoded = Base64URL.encode(data)
            #expect(encoded == reference(data))
            #expect(Base64URL.decode(encoded) == data)
            #expect(Base64URL.decode(Substring(encoded)) == data)
        }
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("-_8") == Data([0xfb, 0xff]))
    }

    @Test func refusesEverythingThatIsNotCanonicalUnpaddedBase64URL() {
        for bad in ["AA==", "A", "AAAAA", "+/8", "AA A", "AA\n", "é", "AB", "AAB", "AAAAAB"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
        #expect(Base64URL.decode("") == Data())
        #expect(Base64URL.decode("AA") == Data([0]))
    }

    /// The temporary-buffer decoding the verifier reads payloads and signatures with gives the same
    /// bytes as `decode` and refuses the same inputs.
    @Test func decodingIntoATemporaryBufferAgreesWithDecode() {
        var generator = SystemRandomNumberGenerator()
        var inputs = ["AA==", "A", "AAAAA", "+/8", "AA A", "AA\n", "é", "AB", "AAB", "AAAAAB", "", "AA", "-_8"]
        for length in 0..<70 {
            inputs.append(Base64URL.encode(Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })))
        }
        for input in inputs {
            let viaBuffer: Data?? = Array(input.utf8).withUnsafeBufferPointer { bytes in Base64URL.withDecoded(utf8: bytes) { Data($0) } }
            let expected = Base64URL.decode(input)
            #expect(viaBuffer == .some(expected) || (expected == nil && viaBuffer == .none), "\(input)")
        }
    }
}
