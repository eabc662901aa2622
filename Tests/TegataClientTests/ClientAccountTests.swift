import Foundation
import TegataTestSupport
import TegataClient
import TegataServer
import TegataTestSupport
import TegataTokens
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sign-out (and its races), account deletion, identity sign-in and linking, the state stream.
@Suite struct ClientAccountTests {
    static let lineKey = ProviderSigningKey.ec(ProviderKeys.ec1, kid: "line-1")
    static let appleKey = ProviderSigningKey.ec(ProviderKeys.ec2, kid: "apple-1")
    static let rawNonce = "n-0S6_WzA2Mj-8f3kq0b1XyZ"

    /// A server whose `line` and `apple` providers take their keys from `provider`.
    static func withServer<T: Sendable>(
        _ provider: FakeProvider, _ configure: @escaping @Sendable (inout TegataConfiguration) -> Void = { _ in },
        _ body: @Sendable (LiveTegata) async throws -> T
    ) async throws -> T {
        let providers: [String: Any] = [
            "line": ["audiences": ["1234567890"], "jwks_url": provider.jwksURL],
            "apple": ["audiences": ["com.example.game"], "jwks_url": provider.jwksURL, "algorithms": ["ES256"]],
        ]
        let environment = ["TEGATA_PROVIDERS": String(decoding: try JSONSerialization.data(withJSONObject: providers), as: UTF8.self)]
        let loaded = try TegataConfiguration.load(file: nil, environment: environment).providers
        return try await LiveTegata.with({
            $0.providers = loaded
            configure(&$0)
        }, body)
    }

    static func lineToken(subject: String = "U1234567890abcdef1234567890abcdef") -> String {
        lineKey.sign(ProviderClaims.fresh(ProviderClaims.line(subject: subject, now: Date())))  // each a distinct token
    }

    @Test func signOutDuringARefreshWinsAndTheRefreshIsNeverStored() async throws {
        try await LiveTegata.with { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let client = TegataClient.make(server, storage: storage, transport: transport)
            let user = try await client.signInWithDevice()
            let oldToken = try await client.accessToken()

            transport.hold("/oauth/token")  // the server rotates; its answer waits
            let refresh = Task { try await client.refreshSession() }
            #expect(try await eventually { transport.held("/oauth/token") == 1 })
            let signOut = Task { try await client.signOut() }
            #expect(try await eventually { await client.currentUser == nil })
            transport.release("/oauth/token")

            let error = await #expect(throws: TegataClientError.self) { try await refresh.value }
            #expect(error?.code == .signedOut)
            try await signOut.value
            #expect(try storage.load()?.session == nil)
            #expect(try storage.load()?.device?.userID == user.id)  // an anonymous user's device stays
            #expect(await client.currentUser == nil)
            // Both the rotated session and the old token are dead at the server.
            #expect(try await server.sessions(ofUser: user.id).allSatisfy(\.revoked))
            #expect(try await server.raw("GET", "/v1/me", token: oldToken).0 == 401)
            let error2 = await #expect(throws: TegataClientError.self) { _ = try await client.accessToken() }
            #expect(error2?.code == .signedOut)
        }
    }

    @Test func aSignInStartedBeforeSignOutIsNeverStored() async throws {
        try await LiveTegata.with { server in
            let storage = InMemoryCredentialStorage()
            let transport = CountingTransport()
            let client = TegataClient.make(server, storage: storage, transport: transport)
            transport.hold("/v1/auth/device")
            let signIn = Task { try await client.signInWithDevice() }
            #expect(try await eventually { transport.held("/v1/auth/device") == 1 })
            let signOut = Task { try await client.signOut() }
            try await Task.sleep(for: .milliseconds(50))
            transport.release("/v1/auth/device")
            let error = await #expect(throws: TegataClientError.self) { _ = try await signIn.value }
            #expect(error?.code == .signedOut)
            try await signOut.value
            #expect(await client.currentUser == nil)
            #expect(try storage.load()?.session == nil)
            // The session the sign-in opened was revoked.
            let deviceID = try #require(try storage.load()?.device?.id)
            let userID = try #require(try await server.owner(ofDevice: deviceID))
            #expect(try await server.sessions(ofUser: userID).map(\.revoked) == [true])
        }
    }

    @Test func theStateStreamReportsEveryChange() async throws {
        try await LiveTegata.with { server in
            let client = TegataClient.make(server)
            let states = await client.authStates()
            let user = try await client.signInWithDevice()
            try await client.signOut()
            var seen: [AuthState] = []
            for await state in states {
                seen.append(state)
                if seen.count == 3 { break }
            }
            #expect(seen == [.signedOut, .signedIn(user), .signedOut])
        }
    }

    /// One user signed in on a phone and on a tablet (through the same device credentials, with
    /// re-auth off on the tablet, so it shows what a session without device credentials would).
    static func twoSessionsOfOneUser(_ server: LiveTegata) async throws -> (TegataClient, TegataClient, UserSummary) {
        let phoneStorage = InMemoryCredentialStorage()
        let phone = TegataClient.make(server, storage: phoneStorage)
        let user = try await phone.signInWithDevice()
        let tabletStorage = InMemoryCredentialStorage(StoredCredentials(device: try phoneStorage.load()?.device))
        let tablet = TegataClient.make(server, storage: tabletStorage) { $0.reauthenticateWithDevice = false }
        #expect(try await tablet.signInWithDevice().id == user.id)
        return (phone, tablet, user)
    }

    @Test func globalSignOutEndsTheOtherDevicesSessionsToo() async throws {
        try await LiveTegata.with { server in
            let (phone, tablet, user) = try await Self.twoSessionsOfOneUser(server)

            try await phone.signOut(scope: .global)
            let error = await #expect(throws: TegataClientError.self) { try await tablet.refreshSession() }
            #expect(error?.code == .signInRequired)
            #expect(try await server.sessions(ofUser: user.id).allSatisfy(\.revoked))
        }
    }

    @Test func signingOutOtherSessionsKeepsThisOne() async throws {
        try await LiveTegata.with { server in
            let (phone, tablet, user) = try await Self.twoSessionsOfOneUser(server)
            try await phone.signOutOtherSessions()
            await #expect(throws: TegataClientError.self) { try await tablet.refreshSession() }
            #expect(try await phone.me().id == user.id)
            try await phone.refreshSession()
        }
    }

    @Test func deletingTheAccountForgetsEverything() async throws {
        try await LiveTegata.with { server in
            let storage = InMemoryCredentialStorage()
            let client = TegataClient.make(server, storage: storage)
            let user = try await client.signInWithDevice()
            let token = try await client.accessToken()
            try await client.deleteAccount()
            #expect(try storage.load() == nil)
            #expect(await client.currentUser == nil)
            #expect(try await server.raw("GET", "/v1/me", token: token).0 == 401)
            // New device credentials: a new anonymous user.
            #expect(try await client.signInWithDevice().id != user.id)
        }
    }

    @Test func signInWithAnIDTokenThenItsSessionEndingRequiresSignIn() async throws {
        try await FakeProvider.with(keys: [Self.lineKey, Self.appleKey]) { provider in
            try await Self.withServer(provider) { server in
                let storage = InMemoryCredentialStorage()
                let transport = CountingTransport()
                let client = TegataClient.make(server, storage: storage, transport: transport)
                let user = try await client.signIn(idToken: Self.lineToken(), provider: "line", nonce: nil)
                #expect(!user.anon)
                #expect(try await client.me().identities.map(\.provider) == ["line"])

                // Apple's nonce goes through as given.
                let apple = Self.appleKey.sign(ProviderClaims.apple(nonce: Self.rawNonce, now: Date()))
                await #expect(throws: TegataClientError.self) { try await client.signIn(idToken: apple, provider: "apple", nonce: "wrong") }
                #expect(await client.currentUser == user)  // a failed sign-in changes nothing
                let appleUser = try await client.signIn(idToken: apple, provider: "apple", nonce: Self.rawNonce)
                #expect(appleUser.id != user.id)

                // No device credentials for this user: when its session ends, the app must sign in.
                let refreshToken = try #require(try storage.load()?.session?.refreshToken)
                #expect(try await server.raw("POST", "/oauth/revoke", form: ["token": refreshToken]).0 == 200)
                let error = await #expect(throws: TegataClientError.self) { try await client.refreshSession() }
                #expect(error?.code == .signInRequired)
                #expect(transport.count("/v1/auth/device") == 0)
            }
        }
    }

    @Test func linkingKeepsTheUserAndSignOutThenForgetsTheDevice() async throws {
        try await FakeProvider.with(keys: [Self.lineKey]) { provider in
            try await Self.withServer(provider) { server in
                let storage = InMemoryCredentialStorage()
                let client = TegataClient.make(server, storage: storage)
                let anonymous = try await client.signInWithDevice()
                let me = try await client.linkIdentity(idToken: Self.lineToken(), provider: "line", nonce: nil)
                #expect(me.id == anonymous.id && !me.anon)
                #expect(await client.currentUser?.anon == false)
                #expect(try storage.load()?.session?.user.anon == false)

                // The identity is taken: a second user cannot link it.
                let other = TegataClient.make(server)
                try await other.signInWithDevice()
                let error = await #expect(throws: TegataClientError.self) {
                    try await other.linkIdentity(idToken: Self.lineToken(), provider: "line", nonce: nil)
                }
                #expect(error?.code == .rejected && error?.status == 409 && error?.serverError?.error == .conflict)

                // A permanent user's sign-out forgets the device: the next device sign-in is a new user.
                try await client.signOut()
                #expect(try storage.load() == nil)
                #expect(try await client.signInWithDevice().id != anonymous.id)
                // The account is still there through its identity.
                #expect(try await client.signIn(idToken: Self.lineToken(), provider: "line", nonce: nil).id == anonymous.id)
            }
        }
    }

    /// The owner of a permanent account ends this phone's session from another phone: the SDK's
    /// renewal finds the refresh refused and the device's registration revoked with it, so it ends
    /// in "sign-in required" instead of silently signing the device back in.
    @Test func aSessionEndedElsewhereIsNotUndoneByDeviceReauthentication() async throws {
        try await FakeProvider.with(keys: [Self.lineKey]) { provider in
            try await Self.withServer(provider) { server in
                let storage = InMemoryCredentialStorage()
                let transport = CountingTransport()
                let client = TegataClient.make(server, storage: storage, transport: transport)
                let user = try await client.signInWithDevice()
                _ = try await client.linkIdentity(idToken: Self.lineToken(), provider: "line", nonce: nil)

                let otherPhone = TegataClient.make(server)
                #expect(try await otherPhone.signIn(idToken: Self.lineToken(), provider: "line", nonce: nil).id == user.id)
                try await otherPhone.signOutOtherSessions()

                let error = await #expect(throws: TegataClientError.self) { try await client.refreshSession() }
                #expect(error?.code == .signInRequired)
                #expect(transport.count("/oauth/token") == 1 && transport.count("/v1/auth/device") == 2, "refresh, then one refused re-auth")
                #expect(await client.currentUser == nil)
                #expect(try storage.load()?.device == nil, "credentials that can never sign in again are forgotten")
                // No call is made until a sign-in, and the other phone is still signed in.
                await #expect(throws: TegataClientError.self) { _ = try await client.accessToken() }
                #expect(transport.total == 4)
                #expect(try await otherPhone.me().id == user.id)
                // A new device sign-in is a new, empty user: the revoked registration stays revoked.
                #expect(try await client.signInWithDevice().id != user.id)
            }
        }
    }

    @Test func realtimeTokensComeThroughTheSignedInSession() async throws {
        try await LiveTegata.with({
            $0.realtimeSigning = .hmac(secret: "centrifugo-shared-secret-0123456789abcdef")
            $0.realtimeNamespaces = ["chat"]
        }) { server in
            let client = TegataClient.make(server)
            await #expect(throws: TegataClientError.self) { _ = try await client.realtimeConnectionToken() }
            let user = try await client.signInWithDevice()
            let connection = try await client.realtimeConnectionToken()
            #expect(connection.expiresIn == 600)
            #expect(claims(of: connection.token)["sub"] as? String == user.id)
            let subscription = try await client.realtimeSubscriptionToken(channel: "chat:#\(user.id)")
            #expect(claims(of: subscription.token)["channel"] as? String == "chat:#\(user.id)")
            let error = await #expect(throws: TegataClientError.self) {
                _ = try await client.realtimeSubscriptionToken(channel: "chat:#someone-else")
            }
            #expect(error?.status == 403 && error?.serverError?.error == .forbidden)
        }
    }
}
