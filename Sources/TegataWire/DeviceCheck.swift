import Foundation

/// The body of `POST /v1/devices/check`: is this device registered to this user? For resource
/// servers migrating off legacy `device-id` + `user-id` headers.
public struct DeviceCheckRequest: Codable, Sendable, Equatable {
    /// The device id the legacy client sent.
    public var deviceID: String
    /// The user id the legacy client sent (a Tegata user id).
    public var userID: String

    /// Creates the body.
    public init(deviceID: String, userID: String) {
        self.deviceID = deviceID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case userID = "user_id"
    }
}

/// The answer of `POST /v1/devices/check`.
public struct DeviceCheckResponse: Codable, Sendable, Equatable {
    /// True when the device exists and is registered to the user.
    public var registered: Bool

    /// Creates the answer.
    public init(registered: Bool) {
        self.registered = registered
    }
}

/// The shape of device and user ids on the wire.
public enum WireIdentifier {
    /// A device id: 8 to 128 of `A-Z a-z 0-9 . _ : -`.
    public static func isDeviceID(_ value: String) -> Bool {
        (8...128).contains(value.utf8.count) && value.utf8.allSatisfy(isIdentifierByte)
    }

    /// Something that can be a user id: 1 to 128 of the same characters (Tegata's are UUIDs).
    public static func isUserID(_ value: String) -> Bool {
        (1...128).contains(value.utf8.count) && value.utf8.allSatisfy(isIdentifierByte)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}
