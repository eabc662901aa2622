import Foundation
import TegataClient
import TegataCore
import TegataServer
import TegataTestSupport
import Testing

/// `claimLegacyDevice(deviceID:userID:)` against a live server with an imported legacy user: the
/// secret is stored before it is sent, a claim sent again reuses it, the claimed device then signs
/// in like any device client, and a refused claim drops the credentials.
@Suite struct ClientDeviceClaimTests {
    static let legacyUser = "legacy-user-4711"
    static let legacyDevice = "0F5C2B1A-legacy-device"

    static func withImportedServer<T: Sendable>(open: Bool, _ body: @Sendable (LiveTegata) async throws -> T) async throws -> T {
        try await LiveTegata.with({ if open { $0.legacyDeviceClaimsUntil = Date().addingTimeInterval(86_400) } }) { server in
            let imported = try await server.runningStore().importUsers(
                [UserImport(id: legacyUser, devices: [ImportedDevice(id: legacyDevice, platform: "ios")])], now: Date())
            #expect(imported == [.created])
            return try await body(server)
        }
    }

    @Test func aClaimedLegacyDeviceSignsInAsItsImportedUserAndAClaimSentAgainReusesItsSecret() async throws {
        try await Self.withImportedServer(open: true) { server in
            let storage = InMemoryCredentialStorage()
            let client = TegataClient.make(server, storage: storage)
            let user = try await client.claimLegacyDevice(deviceID: Self.legacyDevice, userID: Self.legacyUser)
            #expect(user.id == Self.legacyUser)
            let stored = try #require(try storage.load()?.device)
            #expect(stored.id == Self.legacyDevice && stored.userID == Self.legacyUser && stored.secret.count == 43)
            let me = try await server.raw("GET", "/v1/me", token: try await client.accessToken()).0
            #expect(me == 200)

            // Another launch of the same installation claims again (as if the answer had been lost):
            // the stored secret is sent again and signs in; then plain device sign-in works too.
            let relaunched = TegataClient.make(server, storage: storage)
            let again = try await relaunched.claimLegacyDevice(deviceID: Self.legacyDevice, userID: Self.legacyUser)
            #expect(again.id == Self.legacyUser)
            let secret = try storage.load()?.device?.secret
            #expect(secret == stored.secret)
            let signedIn = try await TegataClient.make(server, storage: storage).signInWithDevice()
            #expect(signedIn.id == Self.legacyUser)

            // Another installation claiming the same device is refused, and keeps no credentials.
            let otherStorage = InMemoryCredentialStorage()
            let thief = TegataClient.make(server, storage: otherStorage)
            let error = await #expect(throws: TegataClientError.self) {
                try await thief.claimLegacyDevice(deviceID: Self.legacyDevice, userID: Self.legacyUser)
            }
            #expect(error?.code == .rejected && error?.status == 401)
            let left = try otherStorage.load()?.device
            #expect(left == nil)
            #expect(await thief.currentUser == nil)
        }
    }

    @Test func whileClaimsAreClosedTheClaimIsRefusedWith403() async throws {
        try await Self.withImportedServer(open: false) { server in
            let client = TegataClient.make(server)
            let error = await #expect(throws: TegataClientError.self) {
                try await client.claimLegacyDevice(deviceID: Self.legacyDevice, userID: Self.legacyUser)
            }
            #expect(error?.code == .rejected && error?.status == 403)
            let sessions = try await server.sessions(ofUser: Self.legacyUser)
            #expect(sessions.isEmpty)
        }
    }
}
