import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataWire
import Testing

@Suite struct SessionsTests {
    /// Three sessions of one user (one device signed in three times).
    func threeSessions(_ client: any TestClientProtocol) async throws -> [TokenResponse] {
        var sessions: [TokenResponse] = []
        for _ in 0..<3 { sessions.append(try await client.signIn()) }
        return sessions
    }

    @Test func localLogoutEndsOnlyThisSession() async throws {
        try await Harness().withApp { client, _ in
            let s = try await threeSessions(client)
            #expect(try await client.logout(s[0].accessToken, scope: nil).status == .noContent, "local is the default")
            #expect(try await client.me(s[0].accessToken).status == .unauthorized)
            #expect(try await client.refresh(s[0].refreshToken).status == .badRequest)
            #expect(try await client.me(s[1].accessToken).status == .ok)
            _ = try await client.refreshed(s[2].refreshToken)
        }
    }

    @Test func globalLogoutEndsEverySessionAndMovesTheTokenVersion() async throws {
        try await Harness().withApp { client, _ in
            let s = try await threeSessions(client)
            #expect(try await client.logout(s[1].accessToken, scope: "global").status == .noContent)
            for session in s {
                #expect(try await client.me(session.accessToken).status == .unauthorized)
                #expect(try await client.refresh(session.refreshToken).status == .badRequest)
            }
            let again = try await client.signIn()
            #expect(claim("tv", of: again.accessToken) as? Int == 1)
            #expect(try await client.me(again.accessToken).status == .ok)
        }
    }

    @Test func othersLogoutKeepsOnlyTheCaller() async throws {
        try await Harness().withApp { client, _ in
            let s = try await threeSessions(client)
            #expect(try await client.logout(s[2].accessToken, scope: "others").status == .noContent)
            #expect(try await client.me(s[0].accessToken).status == .unauthorized)
            #expect(try await client.me(s[1].accessToken).status == .unauthorized)
            #expect(try await client.me(s[2].accessToken).status == .ok)
            _ = try await client.refreshed(s[2].refreshToken)
        }
    }

    @Test func logoutNeedsAValidScopeAndAToken() async throws {
        try await Harness().withApp { client, _ in
            let s = try await client.signIn()
            let bad = try await client.logout(s.accessToken, scope: "everything")
            #expect(bad.status == .badRequest && bad.errorBody?.error == .invalidRequest)
            #expect(try await client.me(s.accessToken).status == .ok, "a rejected logout changes nothing")
            try await client.execute(uri: "/v1/logout", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/logout", method: .post, headers: [.authorization: "Bearer \(s.accessToken)", .contentType: "application/json"],
                                     body: ByteBuffer(string: #"{"scope": 1}"#)) { #expect($0.status == .badRequest) }
        }
    }

    @Test func theSessionListShowsLiveSessionsAndWhichIsCurrent() async throws {
        let harness = Harness()
        try await harness.withApp { client, _ in
            let s = try await threeSessions(client)
            harness.clock.advance(by: 30)
            _ = try await client.refreshed(s[1].refreshToken)
            _ = try await client.logout(s[0].accessToken, scope: "local")
            let list = try await client.authorized("/v1/sessions", .get, token: s[2].accessToken).decode(SessionsResponse.self)
            #expect(list.sessions.map(\.id) == [sid(of: s[1].accessToken), sid(of: s[2].accessToken)])
            #expect(list.sessions.map(\.current) == [false, true])
            let first = list.sessions[0]
            #expect(first.platform == "ios" && first.deviceID == "device-0001" && first.amr == ["device"])
            #expect(first.lastRefreshedAt == first.createdAt.addingTimeInterval(30))
            // Another user sees only its own.
            let stranger = try await client.signIn("device-zzzz")
            let theirs = try await client.authorized("/v1/sessions", .get, token: stranger.accessToken).decode(SessionsResponse.self)
            #expect(theirs.sessions.map(\.id) == [sid(of: stranger.accessToken)])
        }
    }

    @Test func deletingOneSessionNeedsToOwnIt() async throws {
        try await Harness().withApp { client, _ in
            let s = try await threeSessions(client)
            let stranger = try await client.signIn("device-zzzz")
            let target = sid(of: s[0].accessToken)
            let foreign = try await client.authorized("/v1/sessions/\(target)", .delete, token: stranger.accessToken)
            #expect(foreign.status == .notFound && foreign.errorBody?.error == .notFound)
            #expect(try await client.me(s[0].accessToken).status == .ok, "another user cannot end it")
            // The id is percent-decoded: every byte escaped still names the session.
            let escaped = target.utf8.map { String(format: "%%%02X", $0) }.joined()
            #expect(try await client.authorized("/v1/sessions/\(escaped)", .delete, token: s[1].accessToken).status == .noContent)
            #expect(try await client.me(s[0].accessToken).status == .unauthorized)
            #expect(try await client.refresh(s[0].refreshToken).status == .badRequest)
            #expect(try await client.authorized("/v1/sessions/\(target)", .delete, token: s[1].accessToken).status == .notFound, "already ended")
            #expect(try await client.authorized("/v1/sessions/no-such-id", .delete, token: s[1].accessToken).status == .notFound)
        }
    }

    @Test func deletingTheAccountKillsEveryTokenAndTheDeviceStartsAfresh() async throws {
        try await Harness().withApp { client, _ in
            let s = try await threeSessions(client)
            let other = try await client.signIn("device-yyyy")
            #expect(try await client.authorized("/v1/me", .delete, token: s[0].accessToken).status == .noContent)
            for session in s {
                #expect(try await client.me(session.accessToken).status == .unauthorized)
                #expect(try await client.refresh(session.refreshToken).status == .badRequest)
            }
            #expect(try await client.me(other.accessToken).status == .ok)
            let fresh = try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody()) { response in
                #expect(response.status == .created)
                return try response.decode(TokenResponse.self)
            }
            #expect(fresh.user.id != s[0].user.id)
            #expect(try await client.authorized("/v1/me", .delete, token: s[1].accessToken).status == .unauthorized)
        }
    }
}
