import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// `POST /v1/auth/device/claim`: a legacy app's `device-id` + `user-id` pair registers a secret for
/// that imported device, once, only while `TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL` is ahead, rate-limited
/// and audited; the claimed device then signs in like any other.
@Suite struct DeviceClaimTests {
    static let legacyUser = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    static let legacyDevice = "A1B2C3D4-legacy-ios-device"
    static let secret = "claimed-secret-0123456789abcdef0123456789"

    static func harness(open: Bool, limit: Int? = nil) throws -> (Harness, String) {
        let (audited, path) = try AuditTests.harness(nil, table: false)
        var harness = audited
        if open { harness.configuration.legacyDeviceClaimsUntil = harness.clock.now().addingTimeInterval(30 * 86_400) }
        if let limit {
            harness.configuration.rateLimits.overrides[.deviceClaims] = RateLimitPolicy(name: RateLimitName.deviceClaims.rawValue, limit: limit, period: 600)
        }
        return (harness, path)
    }

    static func importLegacyUser(_ client: any TestClientProtocol) async throws {
        let body = """
            {"users": [{"id": "\(legacyUser)", "created_at": "2024-05-01T09:00:00Z",
              "devices": [{"id": "\(legacyDevice)", "platform": "ios"}, {"id": "legacy-second-device", "platform": "ios"}],
              "claims": {"plan": "gold"}},
             {"id": "someone-else", "devices": [{"id": "someone-elses-device", "platform": "android"}]}]}
            """
        let imported = try await client.admin(.post, "/admin/v1/users/import", json: body).decode(AdminImportResponse.self)
        #expect(imported.created == 2, "\(imported.results)")
    }

    static func postClaim(
        _ client: any TestClientProtocol, device: String = legacyDevice, user: String = legacyUser, secret: String = secret
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/auth/device/claim", method: .post, headers: [.contentType: "application/json"],
            body: json(["device_id": device, "device_secret": secret, "platform": "ios", "user_id": user]))
    }

    static func expectRefused(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == .unauthorized, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.errorBody?.error == .invalidGrant, sourceLocation: sourceLocation)
        #expect(response.errorBody?.errorDescription == DeviceSignIn.claimRefusal.message, sourceLocation: sourceLocation)
    }

    @Test func anImportedDeviceIsClaimedOnceByItsUserAndThenSignsInLikeAnyOther() async throws {
        let (harness, path) = try Self.harness(open: true)
        try await harness.withApp(.live) { client, services in
            try await Self.importLegacyUser(client)
            // Before the claim, no secret signs the imported device in.
            #expect(try await client.execute(
                uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"],
                body: deviceBody(Self.legacyDevice, secret: Self.secret)).status == .unauthorized)

            // Another user's device, an unknown device: refused alike, telling nothing.
            Self.expectRefused(try await Self.postClaim(client, device: "someone-elses-device"))
            Self.expectRefused(try await Self.postClaim(client, device: "never-imported-device"))
            #expect(try await services.store.deviceOwner(deviceID: "never-imported-device") == nil, "a claim never registers")

            // The claim: the imported user, its claims, a session of its device.
            let claimed = try await Self.postClaim(client)
            #expect(claimed.status == .ok, "\(claimed.text)")
            let tokens = try claimed.decode(TokenResponse.self)
            #expect(tokens.user.id == Self.legacyUser && tokens.user.anon)
            #expect(claim("plan", of: tokens.accessToken) as? String == "gold")
            #expect(claim("amr", of: tokens.accessToken) as? [String] == ["device"])
            #expect(try await client.me(tokens.accessToken).status == .ok)
            let sessions = try await services.store.sessions(ofUser: Self.legacyUser)
            #expect(sessions.count == 1 && sessions.first?.deviceID == Self.legacyDevice)

            // From now on the device signs in with its secret like any other; the refresh token works.
            let signedIn = try await client.signIn(Self.legacyDevice, secret: Self.secret)
            #expect(signedIn.user.id == Self.legacyUser)
            #expect(try await client.refresh(tokens.refreshToken).status == .ok)

            // A second claim with another secret gets nothing; the same claim again (its answer lost) signs in.
            Self.expectRefused(try await Self.postClaim(client, secret: "other-secret-0123456789abcdef0123456789"))
            let retried = try await Self.postClaim(client)
            #expect(retried.status == .ok)
            #expect(try retried.decode(TokenResponse.self).user.id == Self.legacyUser)
            // The user's other device is still waiting for its own claim.
            #expect(try await services.store.deviceSignIn(try Self.command("legacy-second-device")) == .wrongSecret)

            let samples = Sample.parse(services.metrics.exposition())
            for (result, count) in [("claimed", 1.0), ("signed_in", 1), ("unknown_device", 1), ("wrong_user", 1), ("already_claimed", 1)] {
                #expect(samples.value("tegata_device_claims_total", ["result": result]) == count, "\(result)")
            }
        }
        let lines = try AuditTests.lines(path)
        let trail = lines.map(\.text).joined(separator: "\n")
        for secret in [Self.secret, Self.legacyDevice, "other-secret-0123456789abcdef0123456789", "someone-elses-device"] {
            #expect(!trail.contains(secret), "the audit trail holds no secret or device id")
        }
        let claims = lines.map(\.event).filter { $0.type == .deviceClaimed }
        #expect(claims.map { $0.details["result"] ?? $0.details["reason"] ?? "?" } == [
            "wrong_user", "unknown_device", "claimed", "already_claimed", "signed_in",
        ])
        #expect(claims.map(\.userID) == ["someone-else", nil, Self.legacyUser, Self.legacyUser, Self.legacyUser])
        #expect(claims.filter { $0.outcome == .success }.allSatisfy { $0.sessionID != nil })
    }

    static func command(_ deviceID: String) throws -> DeviceSignInCommand {
        let credentials = try DeviceCredentials(deviceID: deviceID, secret: secret, platform: "ios")
        return DeviceSignInCommand(
            credentials: credentials, secretMatches: { _ in true }, secretHash: Data("x".utf8), newUserID: "n", newSessionID: "s",
            clientID: "app", now: Date(), absoluteExpiresAt: Date())
    }

    @Test func claimsAreRefusedWhenNotConfiguredAndOnceTheWindowHasEnded() async throws {
        let (closed, closedPath) = try Self.harness(open: false)
        try await closed.withApp(.live) { client, services in
            try await Self.importLegacyUser(client)
            let refused = try await Self.postClaim(client)
            #expect(refused.status == .forbidden && refused.errorBody?.error == .forbidden, "\(refused.text)")
            #expect(refused.errorBody?.errorDescription == "legacy device claims are not open on this server")
            #expect(try await services.store.sessions(ofUser: Self.legacyUser).isEmpty)
            #expect(try await Self.postClaim(client, device: "short").status == .badRequest, "bad input is a 400 first, whatever the window")
            #expect(Sample.parse(services.metrics.exposition()).value("tegata_device_claims_total", ["result": "window_closed"]) == 1)
        }
        let event = try #require(try AuditTests.lines(closedPath).map(\.event).first { $0.type == .deviceClaimed })
        #expect(event.outcome == .failure && event.details == ["reason": "window_closed"])

        let (open, _) = try Self.harness(open: true)
        try await open.withApp(.live) { client, services in
            try await Self.importLegacyUser(client)
            open.clock.advance(by: 30 * 86_400)
            #expect(try await Self.postClaim(client).status == .forbidden, "the window's end is exclusive")
            #expect(try await services.store.sessions(ofUser: Self.legacyUser).isEmpty)
        }
    }

    @Test func claimsAreRateLimitedPerAddressAndBadInputIsA400() async throws {
        let (harness, _) = try Self.harness(open: true, limit: 2)
        try await harness.withApp(.live) { client, _ in
            try await Self.importLegacyUser(client)
            for body in [
                #"{"device_id": "legacy-second-device", "device_secret": "short", "platform": "ios", "user_id": "x"}"#,
                #"{"device_id": "legacy-second-device", "device_secret": "claimed-secret-0123456789abcdef0123456789", "platform": "ios", "user_id": "not a user id"}"#,
                #"{"device_id": "legacy-second-device", "device_secret": "claimed-secret-0123456789abcdef0123456789", "platform": "ios"}"#,
                #"{"device_id": "legacy-second-device", "device_secret": "claimed-secret-0123456789abcdef0123456789", "platform": "ios", "user_id": 7}"#,
                "[]",
            ] {
                let response = try await client.execute(
                    uri: "/v1/auth/device/claim", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(body): \(response.text)")
                #expect(response.errorBody?.errorDescription?.contains("claimed-secret") == false)
            }
            Self.expectRefused(try await Self.postClaim(client, device: "someone-elses-device"))
            Self.expectRefused(try await Self.postClaim(client, device: "never-imported-device"))
            RateLimitTests.expectLimited(try await Self.postClaim(client), "device-claims", quota: 2, window: 600)
        }
    }
}
