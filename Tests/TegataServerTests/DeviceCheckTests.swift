import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataWire
import Testing

/// `POST /v1/devices/check`, for resource servers migrating off legacy device headers.
@Suite struct DeviceCheckTests {
    private func check(
        _ client: any TestClientProtocol, _ body: String, authorization: String? = basic(apiClient.id, apiClient.secret)
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.execute(uri: "/v1/devices/check", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    private func registered(_ client: any TestClientProtocol, device: String, user: String) async throws -> Bool {
        let response = try await check(client, #"{"device_id": "\#(device)", "user_id": "\#(user)"}"#)
        #expect(response.status == .ok, "\(response.text)")
        #expect(response.headers[.cacheControl] == "no-store")
        return try response.decode(DeviceCheckResponse.self).registered
    }

    @Test func answersWhetherTheDeviceIsRegisteredToTheUser() async throws {
        let harness = Harness { $0.introspectionClients = [apiClient] }
        try await harness.withApp { client, _ in
            let alice = try await client.signIn("device-alice")
            let bob = try await client.signIn("device-bob-1")
            #expect(try await registered(client, device: "device-alice", user: alice.user.id))
            #expect(try await !registered(client, device: "device-alice", user: bob.user.id), "another user's device")
            #expect(try await !registered(client, device: "device-unknown", user: alice.user.id))
            #expect(try await !registered(client, device: "device-alice", user: "not-a-user"))
            // After account deletion the device is gone.
            let deleted = try await client.execute(uri: "/v1/me", method: .delete, headers: [.authorization: "Bearer \(alice.accessToken)"])
            #expect(deleted.status == .noContent)
            #expect(try await !registered(client, device: "device-alice", user: alice.user.id))
        }
    }

    @Test func onlyResourceServerClientsMayAskAndBadInputIs400() async throws {
        let harness = Harness { $0.introspectionClients = [apiClient] }
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-0001")
            let body = #"{"device_id": "device-0001", "user_id": "\#(user.user.id)"}"#
            for authorization in [nil, basic(apiClient.id, "wrong-secret-000000000"), "Bearer \(user.accessToken)"] {
                let response = try await check(client, body, authorization: authorization)
                #expect(response.status == .unauthorized)
                #expect(response.errorBody?.error == .invalidClient)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="tegata""#)
            }
            for bad in ["", "{", "[]", #"{"device_id": "device-0001"}"#, #"{"device_id": 5, "user_id": "u"}"#,
                        #"{"device_id": "short", "user_id": "u"}"#, #"{"device_id": "device 0001", "user_id": "u"}"#,
                        #"{"device_id": "device-0001", "user_id": ""}"#, #"{"device_id": "device-0001", "user_id": "a/b"}"#] {
                let response = try await check(client, bad)
                #expect(response.status == .badRequest, "\(bad)")
                #expect(response.errorBody?.error == .invalidRequest)
            }
        }
        #expect(!harness.logs.all.contains { $0.contains("device-0001") }, "device ids stand in for credentials here: never logged")
    }
}
