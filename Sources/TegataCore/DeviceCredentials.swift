import TegataWire

/// Validated device sign-in input. Construction is the validation: holding one means the id, secret
/// and platform have the contract's shape.
public struct DeviceCredentials: Sendable {
    /// The device id: 8–128 of `[A-Za-z0-9._:-]`.
    public let deviceID: String
    /// The device secret. Its description is redacted so it cannot reach a log by accident.
    public let secret: DeviceSecret
    /// The platform: 1–32 of `[a-z0-9_-]`, starting with a letter or digit.
    public let platform: String

    /// Validates raw input; throws `invalid_request` naming the bad field (never echoing the secret).
    public init(deviceID: String, secret: String, platform: String) throws(TegataError) {
        guard WireIdentifier.isDeviceID(deviceID) else { throw .invalidRequest("device_id must be 8 to 128 characters of A-Z a-z 0-9 . _ : -") }
        // Printable ASCII only, so that the rule is one a schema can state exactly (openapi.yaml's
        // pattern `^[ -~]{32,256}$`); generated secrets (base64url, hex) always fit.
        guard (32...256).contains(secret.utf8.count), secret.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        else { throw .invalidRequest("device_secret must be 32 to 256 printable ASCII characters") }
        self.deviceID = deviceID
        self.secret = DeviceSecret(secret)
        self.platform = try Self.validPlatform(platform)
    }

    /// `platform` if it has the contract's shape (1–32 of `[a-z0-9_-]`, starting with a letter or
    /// digit); `invalid_request` otherwise. Every sign-in that takes a platform checks it here.
    public static func validPlatform(_ platform: String) throws(TegataError) -> String {
        guard (1...32).contains(platform.utf8.count),
              platform.utf8.allSatisfy({ isPlatformByte($0) }),
              let first = platform.utf8.first, first != UInt8(ascii: "_"), first != UInt8(ascii: "-")
        else { throw .invalidRequest("platform must be 1 to 32 characters of a-z 0-9 _ - (e.g. ios, android, web)") }
        return platform
    }

    private static func isPlatformByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}

/// A device secret in memory. Printing it prints `<redacted>`.
public struct DeviceSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret's bytes (UTF-8).
    public let utf8: [UInt8]

    /// Wraps a secret.
    public init(_ value: String) { utf8 = Array(value.utf8) }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `<redacted>`.
    public var debugDescription: String { "<redacted>" }
}
