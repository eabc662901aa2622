import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOPosix
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// Slow and idle clients cannot starve the server: hundreds of connections that send nothing,
/// trickle a request head, or trickle a body, while a normal client signs in again and again —
/// and every slow connection is closed once its deadline passes.
@Suite(.serialized) struct SlowClientTests {
    @Test func idleAndTricklingConnectionsAreClosedWhileOthersAreServed() async throws {
        let harness = Harness {
            $0.port = 0
            $0.httpHeadTimeout = 2
            $0.httpBodyTimeout = 2
        }
        let services = try await harness.services()
        try await withRunningApplication({ ready in buildApplication(services: services, onServerRunning: ready) }) { port in
            let group = MultiThreadedEventLoopGroup.singleton
            var idle: [any Channel] = []
            var heads: [any Channel] = []
            var bodies: [any Channel] = []
            for index in 0..<300 {
                let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
                switch index % 3 {
                case 0: idle.append(channel)
                case 1:
                    heads.append(channel)
                    channel.writeAndFlush(ByteBuffer(string: "POST /v1/auth/device HTTP/1.1\r\nHost: 127.0.0.1\r\n"), promise: nil)
                default:
                    bodies.append(channel)
                    channel.writeAndFlush(ByteBuffer(string: "POST /v1/auth/device HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"), promise: nil)
                }
            }
            let (idleChannels, headChannels, bodyChannels) = (idle, heads, bodies)
            let all = idle + heads + bodies
            // Trickle a byte every 200 ms on every slow connection, for as long as the server keeps it.
            let trickle = Task { [heads, bodies] in
                while !Task.isCancelled {
                    for channel in heads where channel.isActive { channel.writeAndFlush(ByteBuffer(string: "X"), promise: nil) }
                    for channel in bodies where channel.isActive { channel.writeAndFlush(ByteBuffer(string: " "), promise: nil) }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { trickle.cancel() }

            // A normal client is served throughout.
            let started = ContinuousClock.now
            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                for index in 0..<20 {
                    let response = try await client.execute(.init(
                        "/v1/auth/device", method: .post, headers: [.contentType: "application/json"],
                        body: deviceBody("device-\(1000 + index)")))
                    #expect(response.status == .created)
                }
            }
            #expect(ContinuousClock.now - started < .seconds(10), "the normal client was kept waiting")

            // Every slow connection is closed by the server once its deadline has passed.
            let closed = try await eventually(15) { all.allSatisfy { !$0.isActive } }
            #expect(closed, "still open: idle \(idleChannels.filter(\.isActive).count), heads \(headChannels.filter(\.isActive).count), bodies \(bodyChannels.filter(\.isActive).count)")
        }
        await services.store.close()
    }

    @Test func aSlowAnswerIsNotCutByTheDeadlines() async throws {
        // A long poll of the revocation feed outlasts both deadlines: answering is not reading.
        let harness = Harness {
            $0.port = 0
            $0.httpHeadTimeout = 1
            $0.httpBodyTimeout = 1
            $0.introspectionClients = [apiClient]
        }
        try await harness.withApp(.live) { client, _ in
            let cursor = try await client.feed().cursor
            let started = ContinuousClock.now
            let feed = try await client.feed("?after=\(cursor)&wait=3")
            #expect(feed.events.isEmpty && ContinuousClock.now - started >= .milliseconds(2_900))
            // And the connection stays usable for the next request within the head deadline.
            _ = try await client.signIn()
        }
    }
}
