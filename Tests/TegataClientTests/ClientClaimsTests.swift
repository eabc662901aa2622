import Foundation
import TegataClient
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// The claims of the current access token, as the app reads them: Tegata's and the app's own.
@Suite struct ClientClaimsTests {
    @Test func theClaimsOfTheCurrentAccessTokenIncludeTheAppClaimsAfterARenewal() async throws {
        try await LiveTegata.with { server in
            let client = TegataClient.make(server)
            let user = try await client.signInWithDevice()
            let before = try await client.accessTokenClaims()
            #expect(before["sub"] == .string(user.id) && before["anon"] == .bool(true) && before["roles"] == nil)

            let administration = try #require(server.services).administration
            try await administration.setClaims(user.id, ["roles": .array([.string("admin")]), "npln_user_id": .string("p-1")])
            #expect(try await client.accessTokenClaims()["roles"] == nil, "the cached token is as it was")
            _ = try await client.refreshSession()
            let after = try await client.accessTokenClaims()
            #expect(after["roles"] == .array([.string("admin")]) && after["npln_user_id"] == .string("p-1"))
            #expect(after["sub"] == .string(user.id))
        }
    }
}
