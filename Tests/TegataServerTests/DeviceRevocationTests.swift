import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataTokens
import TegataWire
import Testing

/// Ending a session ends the device registration that opened it (unless it is the caller's own),
/// so a lost phone or a copied credentials file cannot undo a logout by signing in with the device.
@Suite struct DeviceRevocationTests {
    typealias Exchange = TokenExchangeTests

    /// A permanent user: a device user (device-0001) who linked Apple, with a second session opened
    /// by Apple sign-in on another phone (no device). Returns (device session, Apple session).
    func permanentUserWithTwoSessions(_ client: any TestClientProtocol, _ harness: Harness) async throws -> (TokenResponse, TokenResponse) {
        let device = try await client.signIn()
        let link = try await client.link(
            Exchange.appleKey.sign(ProviderClaims.apple(nonce: Exchange.rawNonce, now: harness.clock.now())),
            provider: "apple", nonce: Exchange.rawNonce, token: device.accessToken)
        #expect(link.status == .created || link.status == .ok, "\(link.text)")
        let apple = try await client.exchange(
            Exchange.appleKey.sign(ProviderClaims.apple(nonce: Exchange.rawNonce, now: harness.clock.now().addingTimeInterval(1))),
            provider: "apple", nonce: Exchange.rawNonce)
        #expect(apple.status == .ok, "\(apple.text)")
        return (device, try apple.decode(TokenResponse.self))
    }

    func deviceSignIn(_ client: any TestClientProtocol, _ id: String = "device-0001") async throws -> TestResponse {
        try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody(id))
    }

    func expectRevokedDevice(_ client: any TestClientProtocol, _ id: String = "device-0001", sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let response = try await deviceSignIn(client, id)
        #expect(response.status == .unauthorized, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.errorBody?.error == .invalidGrant, sourceLocation: sourceLocation)
        #expect(response.errorBody?.errorDescription?.contains("signed out") == true, sourceLocation: sourceLocation)
    }

    @Test(arguments: ["others", "global", "delete-session"])
    func endingTheDevicesSessionFromElsewhereRevokesTheDevice(scope: String) async throws {
        try await FakeProvider.with(keys: Exchange.allKeys) { provider in
            let harness = try Exchange.harness(provider)
            try await harness.withApp { client, _ in
                let (device, apple) = try await permanentUserWithTwoSessions(client, harness)
                if scope == "delete-session" {
                    let deleted = try await client.authorized("/v1/sessions/\(sid(of: device.accessToken))", .delete, token: apple.accessToken)
                    #expect(deleted.status == .noContent)
                } else {
                    #expect(try await client.logout(apple.accessToken, scope: scope).status == .noContent)
                }
                #expect(try await client.refresh(device.refreshToken).status == .badRequest)
                // The device's secret no longer signs in: not to the account, not as a new user.
                try await expectRevokedDevice(client)
                try await expectRevokedDevice(client)
                // The legacy-header adapter no longer sees it as registered either (covered in
                // DeviceCheckTests' terms: deviceOwner answers nil).
                // A wrong secret is still just a wrong secret.
                let wrong = try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"],
                                                     body: deviceBody(secret: String(repeating: "w", count: 40)))
                #expect(wrong.status == .unauthorized && wrong.errorBody?.errorDescription?.contains("signed out") == false)
                // Other devices are untouched.
                _ = try await client.signIn("device-0002")
            }
        }
    }

    @Test func aGlobalLogoutFromTheDeviceItselfRevokesItForAPermanentUser() async throws {
        try await FakeProvider.with(keys: Exchange.allKeys) { provider in
            let harness = try Exchange.harness(provider)
            try await harness.withApp { client, _ in
                let (device, _) = try await permanentUserWithTwoSessions(client, harness)
                #expect(try await client.logout(device.accessToken, scope: "global").status == .noContent)
                // The user can sign in with Apple again; the device credential is gone for good.
                try await expectRevokedDevice(client)
            }
        }
    }

    @Test func anAnonymousUsersOwnDeviceSurvivesItsOwnLogouts() async throws {
        try await Harness().withApp { client, services in
            // Two sessions of one anonymous user on one device (the app and its widget, say).
            let first = try await client.signIn()
            let second = try await client.signIn()
            #expect(try await client.logout(second.accessToken, scope: "others").status == .noContent)
            #expect(try await client.me(first.accessToken).status == .unauthorized)
            let third = try await client.signIn()
            #expect(third.user.id == first.user.id, "the device is the only way back into an anonymous account")
            #expect(try await client.logout(third.accessToken, scope: "global").status == .noContent)
            let fourth = try await client.signIn()
            #expect(fourth.user.id == first.user.id)
            #expect(try await client.logout(fourth.accessToken, scope: "local").status == .noContent)
            #expect(try await client.signIn().user.id == first.user.id)
            #expect(try await services.store.deviceOwner(deviceID: "device-0001") == first.user.id)
        }
    }

    @Test func aLocalLogoutOrARevokedRefreshTokenKeepsTheDevice() async throws {
        try await FakeProvider.with(keys: Exchange.allKeys) { provider in
            let harness = try Exchange.harness(provider)
            try await harness.withApp { client, services in
                let (device, apple) = try await permanentUserWithTwoSessions(client, harness)
                #expect(try await client.logout(device.accessToken, scope: "local").status == .noContent)
                let again = try await client.signIn()
                #expect(again.user.id == apple.user.id)
                let revoke = try await client.execute(
                    uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: form(["token": again.refreshToken]))
                #expect(revoke.status == .ok)
                #expect(try await client.signIn().user.id == apple.user.id)
                // After the device is revoked, the legacy device check says "not registered".
                #expect(try await client.logout(apple.accessToken, scope: "others").status == .noContent)
                #expect(try await services.store.deviceOwner(deviceID: "device-0001") == nil)
            }
        }
    }
}
