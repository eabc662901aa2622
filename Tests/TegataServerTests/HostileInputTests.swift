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

@Suite struct HostileInputTests {
    func expect400(_ client: any TestClientProtocol, _ body: ByteBuffer?, contains fragment: String? = nil,
                   sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: body) { response in
            #expect(response.status == .badRequest, "\(response.text)", sourceLocation: sourceLocation)
            #expect(response.errorBody?.error == .invalidRequest, sourceLocation: sourceLocation)
            if let fragment {
                #expect(response.errorBody?.errorDescription?.contains(fragment) == true, "\(response.text)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func malformedBodiesAre400() async throws {
        try await Harness().withApp { client, _ in
            try await expect400(client, ByteBuffer(string: "{not json"), contains: "not valid JSON")
            try await expect400(client, ByteBuffer(string: "[]"), contains: "JSON object")
            try await expect400(client, ByteBuffer(string: "\"a string\""))
            try await expect400(client, ByteBuffer(string: "null"))
            try await expect400(client, nil, contains: "body is required")
            try await expect400(client, ByteBuffer(string: ""), contains: "body is required")
            try await expect400(client, json(["device_id": "device-0001", "platform": "ios"]), contains: "missing field device_secret")
            try await expect400(client, json(["device_id": 12345678, "device_secret": validSecret, "platform": "ios"]), contains: "device_id has the wrong type")
            try await expect400(client, json(["device_id": NSNull(), "device_secret": validSecret, "platform": "ios"]), contains: "device_id")
            try await expect400(client, json(["device_id": ["a"], "device_secret": validSecret, "platform": "ios"]))
            // Nesting deep enough to exhaust a recursive parser's stack, inside the body limit.
            try await expect400(client, ByteBuffer(string: String(repeating: "[", count: 32_000) + String(repeating: "]", count: 32_000)))
            try await expect400(client, ByteBuffer(string: #"{"device_id":"# + String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_001)))
            _ = try await client.signIn()
        }
    }

    @Test func nulBytesAndNonUTF8Are400() async throws {
        try await Harness().withApp { client, _ in
            try await expect400(client, deviceBody("device\u{0}0001"), contains: "device_id")
            try await expect400(client, deviceBody(secret: validSecret + "\u{0}"), contains: "device_secret")
            var raw = ByteBuffer(string: #"{"device_id": "device-0001", "device_secret": ""#)
            raw.writeBytes([0xff, 0xfe, 0xc3, 0x28] + Array(repeating: UInt8(ascii: "a"), count: 40))
            raw.writeString(#"", "platform": "ios"}"#)
            try await expect400(client, raw)
            try await expect400(client, ByteBuffer(bytes: [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]))
        }
    }

    @Test func oversizedBodiesAre413AndTheServerKeepsServing() async throws {
        try await Harness().withApp { client, _ in
            let tenMB = ByteBuffer(repeating: UInt8(ascii: "a"), count: 10 * 1024 * 1024)
            try await client.execute(uri: "/v1/auth/device", method: .post, body: tenMB) { response in
                #expect(response.status == .contentTooLarge)
                #expect(response.errorBody?.error == .payloadTooLarge)
            }
            // Just over the 64 KiB default, inside valid JSON.
            let padded = json(["device_id": "device-0001", "device_secret": validSecret, "platform": "ios",
                               "padding": String(repeating: "p", count: 64 * 1024)])
            try await client.execute(uri: "/v1/auth/device", method: .post, body: padded) { #expect($0.status == .contentTooLarge) }
            _ = try await client.signIn()
        }
    }

    @Test func theBodyLimitIsConfigurable() async throws {
        try await Harness { $0.maxBodySize = 200 }.withApp { client, _ in
            let padded = json(["device_id": "device-0001", "device_secret": validSecret, "platform": "ios",
                               "padding": String(repeating: "p", count: 200)])
            try await client.execute(uri: "/v1/auth/device", method: .post, body: padded) { #expect($0.status == .contentTooLarge) }
            _ = try await client.signIn()
        }
    }

    @Test func hugeHeadersOverARealSocketAre4xxAndTheServerKeepsServing() async throws {
        let harness = Harness { $0.port = 0 }
        try await harness.withApp(.live) { client, _ in
            let big = String(repeating: "a", count: 64 * 1024)
            do {
                try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(big)"]) { response in
                    #expect((400..<500).contains(response.status.code), "got \(response.status.code)")
                }
            } catch {
                // NIO may refuse the request before it reaches Tegata and close the connection; that is not a 5xx either.
            }
            try await client.execute(uri: "/v1/me", method: .get, headers: [.init("X-Junk")!: big]) { response in
                #expect(response.status == .unauthorized)
            }
        }
        // A new connection still gets served.
        try await harness.withApp(.live) { client, _ in
            _ = try await client.signIn()
            try await client.execute(uri: "/v1/auth/device", method: .post, body: ByteBuffer(repeating: 0, count: 10 * 1024 * 1024)) {
                #expect($0.status == .contentTooLarge)
            }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
        }
    }
}
