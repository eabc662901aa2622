import Crypto
import Foundation
import Logging
import TegataCore
import TegataTokens

/// Loads the master key and the signing keys at start-up: generates what development needs on first
/// start and keeps it across restarts.
enum KeyBootstrap {
    /// Reads the master key from configuration or its file; generates the file (mode 0600) if it is
    /// missing, with a warning that this is for development.
    static func masterKey(_ source: TegataConfiguration.MasterKeySource, logger: Logger) throws -> SymmetricKey {
        switch source {
        case .inline(let data):
            return SymmetricKey(data: data)
        case .developmentFile(let path):
            if let contents = FileManager.default.contents(atPath: path) {
                let text = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard let data = TegataConfiguration.decodeKey(text), data.count == ServerSecrets.masterKeyLength else {
                    throw ConfigurationError(key: "TEGATA_MASTER_KEY_FILE", message: "\(path) does not hold 32 bytes of base64")
                }
                // Refused, not warned about (as ssh does with private keys): whoever can read this
                // file can recompute every refresh token and decrypt the signing keys.
                if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
                   mode & 0o077 != 0 {
                    throw ConfigurationError(
                        key: "TEGATA_MASTER_KEY_FILE",
                        message: "\(path) is accessible to group or others (mode \(String(mode & 0o777, radix: 8))): run chmod 600 \(path)")
                }
                logger.warning(
                    "using a development master key file; set TEGATA_MASTER_KEY in production",
                    metadata: ["path": "\(path)"])
                return SymmetricKey(data: data)
            }
            let key = SymmetricKey(size: .bits256)
            let encoded = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
            try writeSecretFile(path: path, contents: Data(encoded.utf8))
            logger.warning(
                "generated a development master key file; set TEGATA_MASTER_KEY in production and keep this file secret",
                metadata: ["path": "\(path)"])
            return key
        }
    }

    /// Creates `path` with mode 0600 (never replacing an existing file) and writes `contents`.
    static func writeSecretFile(path: String, contents: Data) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw ConfigurationError(key: "TEGATA_MASTER_KEY_FILE", message: "cannot create \(path) (errno \(errno))")
        }
        defer { close(fd) }
        let written = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == contents.count, fsync(fd) == 0 else {
            throw ConfigurationError(key: "TEGATA_MASTER_KEY_FILE", message: "cannot write \(path)")
        }
    }

    /// The keys of an operator's key file: one or more PEM P-256 private keys (SEC 1 or PKCS #8), in
    /// order (the first signs, the others are published); `EC PARAMETERS` blocks, as `openssl
    /// ecparam -genkey` writes them, are skipped. Read again at every key reload.
    static func keys(inFile file: String) throws -> [SigningKey] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError(key: "TEGATA_SIGNING_KEY_FILE", message: "cannot read \(file)")
        }
        let refused = ConfigurationError(
            key: "TEGATA_SIGNING_KEY_FILE", message: "\(file) is not one or more PEM P-256 (ES256) private keys")
        let text = String(decoding: data, as: UTF8.self)
        var keys: [SigningKey] = []
        var rest = text[...]
        while let begin = rest.range(of: "-----BEGIN ") {
            guard let label = rest[begin.upperBound...].range(of: "-----"),
                  let end = rest[label.upperBound...].range(of: "-----END "),
                  let close = rest[end.upperBound...].range(of: "-----")
            else { throw refused }
            let block = String(rest[begin.lowerBound..<close.upperBound])
            if rest[begin.upperBound..<label.lowerBound] != "EC PARAMETERS" {
                guard let key = try? SigningKey(pem: block) else { throw refused }
                keys.append(key)
            }
            rest = rest[close.upperBound...]
        }
        guard !keys.isEmpty else { throw refused }
        guard Set(keys.map(\.id)).count == keys.count else {
            throw ConfigurationError(key: "TEGATA_SIGNING_KEY_FILE", message: "\(file) holds the same key twice")
        }
        return keys
    }

    /// The signing keys: the operator's PEM keys if configured; else the stored keys (decrypted with
    /// the master key) with their activation times, generating, encrypting and storing one on first
    /// start. `retention`: how long a replaced key stays published.
    static func serverKeys(
        configuration: TegataConfiguration, secrets: ServerSecrets, store: any SigningKeyStore, clock: any TegataClock,
        retention: TimeInterval, logger: Logger
    ) async throws -> ServerKeys {
        if let file = configuration.signingKeyFile {
            let keys = try ServerKeys(configured: { try Self.keys(inFile: file) })
            let ids = keys.schedule.keys.map(\.key.id.rawValue)
            logger.info("signing with the configured key", metadata: ["kid": "\(ids[0])", "published": "\(ids.joined(separator: ","))"])
            return keys
        }
        var keys: [ScheduledSigningKey] = []
        for stored in try await store.signingKeys().reversed() {
            do {
                let raw = try secrets.open(sealedPrivateKey: stored.sealedPrivateKey, keyID: stored.keyID)
                keys.append(ScheduledSigningKey(key: try SigningKey(rawRepresentation: raw), activatesAt: stored.activatesAt))
            } catch {
                throw ConfigurationError(
                    key: "TEGATA_MASTER_KEY",
                    message: "the stored signing key \(stored.keyID) cannot be decrypted with this master key")
            }
        }
        let now = clock.now()
        if keys.isEmpty {
            let key = SigningKey.generate()
            try await store.insertSigningKey(
                StoredSigningKey(
                    keyID: key.id.rawValue, algorithm: KeyRing.algorithm,
                    sealedPrivateKey: try secrets.seal(privateKey: key.rawRepresentation, keyID: key.id.rawValue),
                    createdAt: now),
                removing: [])
            logger.info("generated a new ES256 signing key", metadata: ["kid": "\(key.id)"])
            keys = [ScheduledSigningKey(key: key, activatesAt: now)]
        }
        return try ServerKeys(
            schedule: SigningKeySchedule(keys: keys, retention: retention), origin: .stored(store: store, secrets: secrets),
            now: now)
    }
}
