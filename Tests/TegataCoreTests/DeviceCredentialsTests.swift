import TegataCore
import TegataWire
import Testing

@Suite struct DeviceCredentialsTests {
    let secret = String(repeating: "s", count: 32)

    func rejects(_ id: String, _ secret: String, _ platform: String, field: String) {
        do {
            _ = try DeviceCredentials(deviceID: id, secret: secret, platform: platform)
            Issue.record("accepted \(field)")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.hasPrefix(field), "message names \(field): \(error.message)")
            #expect(secret.isEmpty || !error.message.contains(secret), "never echoes the secret")
        }
    }

    @Test func acceptsTheContractsShapes() throws {
        for id in ["abcdefgh", String(repeating: "x", count: 128), "A.b_c:d-9", "2F1C8A5E-1111-4444-8888-123456789ABC"] {
            _ = try DeviceCredentials(deviceID: id, secret: secret, platform: "ios")
        }
        for platform in ["ios", "android", "web", "macos", "x", String(repeating: "a", count: 32), "tv_os-2"] {
            _ = try DeviceCredentials(deviceID: "device-01", secret: secret, platform: platform)
        }
        _ = try DeviceCredentials(deviceID: "device-01", secret: String(repeating: "~", count: 256), platform: "web")
        _ = try DeviceCredentials(deviceID: "device-01", secret: "with spaces and symbols !@#$%^&*()_+ 0123", platform: "web")
    }

    @Test func rejectsBadDeviceIDs() {
        for id in ["", "short7c", String(repeating: "x", count: 129), "has space", "slash/slash1", "nul\u{0}byte1", "ünïcode-id", "semi;colon1"] {
            rejects(id, secret, "ios", field: "device_id")
        }
    }

    @Test func rejectsBadSecrets() {
        for bad in [String(repeating: "s", count: 31), String(repeating: "s", count: 257),
                    String(repeating: "s", count: 31) + "\u{0}", String(repeating: "s", count: 40) + "\n",
                    String(repeating: "s", count: 40) + "\u{200B}", "",
                    // Printable ASCII only (openapi.yaml's pattern): no other script, no DEL, no tab.
                    String(repeating: "é", count: 40), String(repeating: "s", count: 40) + "\u{7F}",
                    String(repeating: "s", count: 40) + "\t"] {
            rejects("device-01", bad, "ios", field: "device_secret")
        }
    }

    @Test func rejectsBadPlatforms() {
        for platform in ["", "iOS", "-ios", "_ios", String(repeating: "a", count: 33), "i os", "ios\u{0}"] {
            rejects("device-01", secret, platform, field: "platform")
        }
    }

    @Test func theSecretIsRedactedWhenPrinted() throws {
        let credentials = try DeviceCredentials(deviceID: "device-01", secret: secret, platform: "ios")
        #expect("\(credentials.secret)" == "<redacted>")
        #expect(!String(describing: credentials).contains(secret))
        #expect(!String(reflecting: credentials).contains(secret))
    }
}
