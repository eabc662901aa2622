import Foundation
import TegataClient
import TegataServer
import TegataTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The access token goes only where the app said it may, and a sign-out the server did not hear
/// about is retried rather than forgotten.
@Suite struct ClientSafetyTests {
    @Test func theAccessTokenIsSentOnlyToTegataAndTheConfiguredAPIs() async throws {
        try await LiveTegata.with { server in
            try await AlwaysUnauthorized.with { api in
                let transport = CountingTransport()
                // The API as configured: another port on loopback, and only under /things.
                let client = TegataClient.make(server, transport: transport) {
                    $0.apiBaseURLs = [URL(string: "http://localhost:\(api.url.port!)/things/")!]
                }
                try await client.signInWithDevice()
                let before = transport.total
                for refused in [
                    api.url,                                                      // 127.0.0.1, not the configured localhost
                    URL(string: "http://localhost:\(api.url.port!)/other")!,      // outside the configured path
                    URL(string: "http://localhost:\(api.url.port! + 1)/things/x")!, // another port
                    URL(string: "https://api.example.com/things")!,                // never configured
                    URL(string: "http://api.example.com/")!,                       // plain http off loopback
                    URL(string: "ftp://localhost/things/")!,
                ] {
                    let error = await #expect(throws: TegataClientError.self, "\(refused)") { _ = try await client.send(URLRequest(url: refused)) }
                    #expect(error?.code == .disallowedURL)
                    #expect(error.map { !$0.description.contains("eyJ") } ?? true, "no token in the error")
                }
                #expect(transport.total == before, "nothing was sent")
                #expect(api.hits == 0)
                // Tegata itself and the configured API are fine.
                let (_, me) = try await client.send(URLRequest(url: server.baseURL.appendingPathComponent("v1/me")))
                #expect(me.statusCode == 200)
                let (_, answer) = try await client.send(URLRequest(url: URL(string: "http://localhost:\(api.url.port!)/things")!))
                #expect(answer.statusCode == 401 && api.hits == 2)
            }
        }
    }

    @Test func aLocalSignOutTheServerDidNotHearIsRevokedLater() async throws {
        let directory = LiveTegata.makeDirectory()
        let storage = InMemoryCredentialStorage()
        let transport = CountingTransport()
        let (port, user, refreshToken) = try await LiveTegata.with(directory: directory) { server in
            let client = TegataClient.make(server, storage: storage, transport: transport)
            let user = try await client.signInWithDevice()
            return (server.port, user, try #require(try storage.load()?.session?.refreshToken))
        }
        // The server is down: the sign-out happens locally, and the refresh token waits.
        let client = TegataClient.make(LiveTegata(directory: directory, port: port), storage: storage, transport: transport)
        let error = await #expect(throws: TegataClientError.self) { try await client.signOut() }
        #expect(error?.code == .unavailable)
        #expect(await client.currentUser == nil)
        #expect(try storage.load()?.session == nil)
        #expect(try storage.load()?.pendingRevocations == [refreshToken])

        try await LiveTegata.with(directory: directory, port: port) { server in
            // Still alive at the server: it never heard of the sign-out.
            #expect(try await server.sessions(ofUser: user.id).contains { !$0.revoked })
            // The next sign-in revokes it, and forgets it.
            let again = try await client.signInWithDevice()
            #expect(again.id == user.id)
            #expect(try storage.load()?.pendingRevocations == [])
            let sessions = try await server.sessions(ofUser: user.id)
            #expect(sessions.filter { !$0.revoked }.count == 1, "only the new session lives")
            #expect(sessions.count == 2)
        }
    }

    @Test func storesWrittenBeforePendingRevocationsStillLoad() throws {
        let old = #"{"device":{"id":"2F1C8A5E-1111-4444-8888-123456789ABC","secret":"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-xx"}}"#
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-old-store-\(UUID().uuidString)")
        let storage = FileCredentialStorage(url: directory.appendingPathComponent("credentials.json"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(old.utf8).write(to: storage.url)
        let loaded = try #require(try storage.load())
        #expect(loaded.device?.id == "2F1C8A5E-1111-4444-8888-123456789ABC" && loaded.pendingRevocations.isEmpty)
    }
}
