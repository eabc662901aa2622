import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTokens
import TegataWire
import Testing

@Suite struct KeyPersistenceTests {
    @Test func firstStartGeneratesKeysThatSurviveARestart() async throws {
        let harness = Harness()
        let (kid, tokens) = try await harness.withApp { client, services in
            (services.keyRing.currentKeyID, try await client.signIn())
        }
        let keyFile = (harness.directory as NSString).appendingPathComponent("master.key")
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(harness.logs.all.contains { $0.contains("warning") && $0.contains("development master key") })

        let restarted = try await harness.withApp { client, services in
            #expect(services.keyRing.currentKeyID == kid)
            #expect(try await client.me(tokens.accessToken).status == .ok, "tokens survive a restart")
            return try await client.signIn()
        }
        #expect(restarted.user == tokens.user, "the device secret hash still verifies after a restart")
    }

    @Test func privateKeysAreStoredEncryptedUnderTheMasterKey() async throws {
        let master = Data((0..<32).map { UInt8($0 &* 7) })
        let harness = Harness { $0.masterKey = .inline(master) }
        let kid = try await harness.withApp { _, services in services.keyRing.currentKeyID }
        #expect(!FileManager.default.fileExists(atPath: (harness.directory as NSString).appendingPathComponent("master.key")))
        let stored = try await harness.withStore { try await $0.signingKeys() }
        #expect(stored.map(\.keyID) == [kid.rawValue])
        let sealed = try #require(stored.first).sealedPrivateKey
        let opened = try ServerSecrets(masterKey: SymmetricKey(data: master)).open(sealedPrivateKey: sealed, keyID: kid.rawValue)
        #expect(try SigningKey(rawRepresentation: opened).id == kid)
        #expect(!sealed.contains(opened), "the stored form is not the key")
    }

    @Test func anotherMasterKeyIsRefusedNamingTheKey() async throws {
        var harness = Harness { $0.masterKey = .inline(Data(repeating: 1, count: 32)) }
        _ = try await harness.withApp { _, _ in true }
        harness.configuration.masterKey = .inline(Data(repeating: 2, count: 32))
        do {
            _ = try await harness.services()
            Issue.record("started with the wrong master key")
        } catch let error as ConfigurationError {
            #expect(error.key == "TEGATA_MASTER_KEY")
        }
    }

    @Test func anOperatorSuppliedPEMKeySigns() async throws {
        let key = SigningKey.generate()
        let pemPath = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-key-\(UUID().uuidString).pem").path
        try key.privateKey.pemRepresentation.write(toFile: pemPath, atomically: true, encoding: .utf8)
        try await Harness { $0.signingKeyFile = pemPath }.withApp { client, _ in
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { try $0.decode(JWKSDocument.self) }
            #expect(jwks.keys.map(\.kid) == [key.id.rawValue])
            let tokens = try await client.signIn()
            let parts = tokens.accessToken.split(separator: ".")
            let signature = try P256.Signing.ECDSASignature(rawRepresentation: Base64URL.decode(parts[2])!)
            #expect(key.privateKey.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
        }
    }

    @Test func anUnreadablePEMIsAConfigurationError() async throws {
        let pemPath = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-bad-\(UUID().uuidString).pem").path
        try "not a key".write(toFile: pemPath, atomically: true, encoding: .utf8)
        for path in [pemPath, "/nonexistent/key.pem"] {
            do {
                _ = try await Harness { $0.signingKeyFile = path }.services()
                Issue.record("accepted \(path)")
            } catch let error as ConfigurationError {
                #expect(error.key == "TEGATA_SIGNING_KEY_FILE")
            }
        }
    }
}
