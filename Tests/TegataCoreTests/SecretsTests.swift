import Crypto
import Foundation
import TegataCore
import Testing

@Suite struct RefreshTokenTests {
    let key = SymmetricKey(size: .bits256)

    @Test func roundTripsWithTheSameKey() {
        for generation: Int64 in [0, 1, 255, 256, 1 << 40, Int64.max] {
            let token = RefreshToken(sessionID: UUID(), generation: generation)
            let encoded = token.encode(with: key)
            #expect(encoded.utf8.count == RefreshToken.encodedLength)
            #expect(RefreshToken.decode(encoded, with: key) == token)
        }
    }

    @Test func isDeterministicSoTheCurrentTokenCanBeRecomputed() {
        let token = RefreshToken(sessionID: UUID(), generation: 7)
        #expect(token.encode(with: key) == token.encode(with: key))
        #expect(token.encode(with: key) != RefreshToken(sessionID: token.sessionID, generation: 8).encode(with: key))
    }

    @Test func rejectsEveryAlteredCharacterAndOtherKeys() {
        let encoded = RefreshToken(sessionID: UUID(), generation: 3).encode(with: key)
        var chars = Array(encoded)
        for index in chars.indices {
            let original = chars[index]
            chars[index] = original == "A" ? "B" : "A"
            #expect(RefreshToken.decode(String(chars), with: key) == nil, "altered at \(index)")
            chars[index] = original
        }
        #expect(RefreshToken.decode(encoded, with: SymmetricKey(size: .bits256)) == nil)
        #expect(RefreshToken.decode(String(encoded.dropLast()), with: key) == nil)
        #expect(RefreshToken.decode(encoded + "A", with: key) == nil)
        #expect(RefreshToken.decode("", with: key) == nil)
        #expect(RefreshToken.decode(String(repeating: "\u{0}", count: 76), with: key) == nil)
    }
}

@Suite struct ServerSecretsTests {
    let secrets = ServerSecrets(masterKey: SymmetricKey(size: .bits256))

    @Test func deviceSecretHashVerifiesOnlyTheSameSecret() throws {
        let secret = DeviceSecret(String(repeating: "k", count: 40))
        let hash = secrets.hash(secret)
        #expect(hash.count == 32)
        #expect(secrets.verify(secret, against: hash))
        #expect(!secrets.verify(DeviceSecret(String(repeating: "k", count: 39) + "j"), against: hash))
        #expect(!ServerSecrets(masterKey: SymmetricKey(size: .bits256)).verify(secret, against: hash), "keyed by the master key")
    }

    @Test func derivedKeysAreDistinctAndStable() {
        let master = SymmetricKey(size: .bits256)
        let a = ServerSecrets(masterKey: master), b = ServerSecrets(masterKey: master)
        func bytes(_ key: SymmetricKey) -> Data { key.withUnsafeBytes { Data($0) } }
        #expect(bytes(a.refreshTokenKey) == bytes(b.refreshTokenKey))
        #expect(Set([bytes(a.refreshTokenKey), bytes(a.deviceSecretKey), bytes(a.keyEncryptionKey), master.withUnsafeBytes { Data($0) }]).count == 4)
    }

    @Test func sealedKeysOpenOnlyWithTheSameMasterKeyAndKeyID() throws {
        let privateKey = Data((0..<32).map { UInt8($0) })
        let sealed = try secrets.seal(privateKey: privateKey, keyID: "kid-1")
        #expect(!sealed.contains(privateKey))
        #expect(try secrets.open(sealedPrivateKey: sealed, keyID: "kid-1") == privateKey)
        #expect(throws: (any Error).self) { try secrets.open(sealedPrivateKey: sealed, keyID: "kid-2") }
        #expect(throws: (any Error).self) {
            try ServerSecrets(masterKey: SymmetricKey(size: .bits256)).open(sealedPrivateKey: sealed, keyID: "kid-1")
        }
    }
}
