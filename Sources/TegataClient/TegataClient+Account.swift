import Foundation
import TegataWire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Which sessions `signOut(scope:)` ends.
public enum SignOutScope: String, Sendable {
    /// This session only.
    case local
    /// Every session of the user, on every device.
    case global
}

extension TegataClient {
    // MARK: Sign-in

    /// Signs in with this installation's device credentials, generating and storing them first on
    /// first use (before they are sent, so a lost answer never loses the account). The first call
    /// creates an anonymous user; later calls sign the same user in again.
    @discardableResult
    public func signInWithDevice() async throws -> UserSummary {
        let epoch = self.epoch
        let lock = try await lockStore()
        defer { lock.unlock() }
        try adoptStoreBeforeSignIn()
        let device = try credentials.device ?? storeNewDevice(DeviceCredentials.generate())
        ensureDPoPKey()
        return try await signIn(with: device, epoch: epoch) { [api, configuration] in
            await api.deviceSignIn(device, platform: configuration.platform)
        }
    }

    /// Moves a legacy installation to Tegata (docs/migration.md): claims the imported device
    /// `deviceID` of the imported user `userID` — the ids the old app sent as `device-id` and
    /// `user-id` headers — with a new device secret, and signs in as that user. The secret is
    /// generated and stored before it is sent, so a claim whose answer was lost is sent again with
    /// the same secret (and signs in); once claimed, the client renews and signs in with these
    /// device credentials like any device client. They replace any device credentials the
    /// installation had. Only while the server accepts claims: otherwise `.rejected` with status
    /// 403; a device that cannot be claimed (another secret, another user's, not imported):
    /// `.rejected` with status 401, and the credentials are dropped.
    @discardableResult
    public func claimLegacyDevice(deviceID: String, userID: String) async throws -> UserSummary {
        let epoch = self.epoch
        let lock = try await lockStore()
        defer { lock.unlock() }
        try adoptStoreBeforeSignIn()
        let device: DeviceCredentials
        if let existing = credentials.device, existing.id == deviceID, existing.userID == nil || existing.userID == userID {
            device = existing  // a claim sent before, or a device claimed already
        } else {
            device = try storeNewDevice(DeviceCredentials(id: deviceID, secret: DeviceCredentials.generate().secret))
        }
        ensureDPoPKey()
        return try await signIn(with: device, epoch: epoch) { [api, configuration] in
            await api.claimDevice(device, userID: userID, platform: configuration.platform)
        }
    }

    /// Stores `device` as this installation's device credentials before they are first sent.
    private func storeNewDevice(_ device: DeviceCredentials) throws -> DeviceCredentials {
        credentials.device = device
        persist()
        guard !storeIsBehind else { throw TegataClientError.storage("cannot store the new device credentials") }
        return device
    }

    /// A sign-in with `device` (a device sign-in or a claim): adopts the session it opens.
    private func signIn(with device: DeviceCredentials, epoch: Int, _ operation: @Sendable () async -> TegataAPI.Outcome) async throws -> UserSummary {
        let reply: TegataAPI.Reply
        do {
            reply = try await signInReply(epoch: epoch, operation)
        } catch let error as TegataClientError where error.meansDeadDeviceCredentials {
            // A wrong secret, a revoked registration or a refused claim: these credentials can never
            // sign in. Forget them, so the next device sign-in starts afresh (a new anonymous user).
            forgetDevice(device)
            throw error
        }
        let previous = credentials.session
        let session = try await adopt(reply, epoch: epoch, startsSession: true)
        credentials.device?.userID = session.user.id
        persist()
        await revokeReplaced(previous, by: session)
        try? await flushPendingRevocations()
        return session.user
    }

    /// Signs in with an external provider's ID token (RFC 8693 token exchange): `provider` is the
    /// name configured on the server (`apple`, `google`, `line`, …), `nonce` the raw nonce the app
    /// passed to the provider (its SHA-256 is in the token). Creates the user on first sight.
    @discardableResult
    public func signIn(idToken: String, provider: String, nonce: String?) async throws -> UserSummary {
        let epoch = self.epoch
        let lock = try await lockStore()
        defer { lock.unlock() }
        try adoptStoreBeforeSignIn()
        let presentation = IDTokenPresentation(idToken: idToken, provider: provider, nonce: nonce)
        ensureDPoPKey()
        let reply = try await signInReply(epoch: epoch) { [api] in await api.exchange(presentation) }
        let previous = credentials.session
        let session = try await adopt(reply, epoch: epoch, startsSession: true)
        await revokeReplaced(previous, by: session)
        try? await flushPendingRevocations()
        return session.user
    }

    /// Links an external identity to the signed-in user (same parameters as `signIn(idToken:…)`).
    /// An anonymous device user becomes permanent and keeps its id and data. Returns the user as
    /// `/v1/me` describes it. An identity linked to another user: `.rejected` with status 409.
    @discardableResult
    public func linkIdentity(idToken: String, provider: String, nonce: String?) async throws -> MeResponse {
        let presentation = IDTokenPresentation(idToken: idToken, provider: provider, nonce: nonce)
        let request = api.form("/v1/me/identities", presentation.parameters(grantType: nil))
        let me = try await tegataRequest(request).decode(MeResponse.self)
        await updateUser(from: me)
        return me
    }

    /// The signed-in user as `GET /v1/me` describes it (identities and entitlements included).
    public func me() async throws -> MeResponse {
        let me = try await tegataRequest(api.request("GET", "/v1/me")).decode(MeResponse.self)
        await updateUser(from: me)
        return me
    }

    /// A Centrifugo connection token for the signed-in user (`POST /v1/realtime/token`). Pass it
    /// to the Centrifugo client's token getter, which calls again when Centrifugo asks to refresh.
    public func realtimeConnectionToken() async throws -> RealtimeTokenResponse {
        try await tegataRequest(api.request("POST", "/v1/realtime/token")).decode(RealtimeTokenResponse.self)
    }

    /// A Centrifugo subscription token for `channel` (`POST /v1/realtime/subscription-token`). A
    /// channel the server's policy does not allow: `.rejected` with status 403.
    public func realtimeSubscriptionToken(channel: String) async throws -> RealtimeTokenResponse {
        let request = api.json("POST", "/v1/realtime/subscription-token", SubscriptionTokenRequest(channel: channel))
        return try await tegataRequest(request).decode(RealtimeTokenResponse.self)
    }

    /// With the lock held, before a sign-in: takes the store's view (device credentials another
    /// process made, its session), unless the last save failed and memory is newer.
    private func adoptStoreBeforeSignIn() throws {
        guard !storeIsBehind, let stored = try loadStore() else { return }
        credentials = stored
        if let session = stored.session { setState(.signedIn(session.user)) }
    }

    private func signInReply(epoch: Int, _ operation: @Sendable () async -> TegataAPI.Outcome) async throws -> TegataAPI.Reply {
        switch try await attempt(epoch: epoch, operation) {
        case .success(let reply): return reply
        case .rejected(let error): throw error
        }
    }

    /// Drops the stored device credentials if they are still `device`.
    func forgetDevice(_ device: DeviceCredentials) {
        guard credentials.device?.id == device.id else { return }
        credentials.device = nil
        persist()
    }

    /// Revokes the session a sign-in replaced, so it does not linger at the server.
    private func revokeReplaced(_ previous: SessionCredentials?, by session: SessionCredentials) async {
        guard let refreshToken = previous?.refreshToken, refreshToken != session.refreshToken else { return }
        _ = await api.revoke(refreshToken)
    }

    private func updateUser(from me: MeResponse) async {
        guard let lock = try? await lockStore() else { return }
        defer { lock.unlock() }
        try? syncWithStore()
        guard let session = credentials.session, session.user.id == me.id else { return }
        let user = UserSummary(id: me.id, anon: me.anon, createdAt: me.createdAt)
        guard user != session.user else { return }
        credentials.session?.user = user
        persist()
        setState(.signedIn(user))
    }

    // MARK: Sign-out and deletion

    /// Signs out. Locally this always happens first and at once: the session is forgotten, the
    /// state becomes `.signedOut`, and nothing under way will store a result. Then the server is
    /// told (`.local`: this session is revoked; `.global`: every session of the user ends).
    ///
    /// A device user's device credentials are kept, so `signInWithDevice()` returns to the same
    /// anonymous account; once the user is permanent (an identity is linked) they are forgotten,
    /// so the next device sign-in does not enter that account without the user.
    ///
    /// - Throws: `.unavailable` or `.rejected` when the server could not be told. The local
    ///   sign-out has happened anyway. The refresh token is then kept as a pending revocation and
    ///   revoked at the next sign-in or ``flushPendingRevocations()``, so the session does not
    ///   live on at the server.
    public func signOut(scope: SignOutScope = .local) async throws {
        epoch += 1
        renewal = nil
        var ending = credentials.session
        forgetInMemory(keepingDevice: ending?.user.anon ?? true)
        setState(.signedOut)
        // The store may hold a newer refresh token (another process rotated it): revoke that one.
        // Until the server confirms, the token waits among the pending revocations.
        let lock = try? await lockStore()
        if lock != nil, let stored = try? storage.load(), let session = stored.session, session.user.id == ending?.user.id {
            ending = session
        }
        if let refreshToken = ending?.refreshToken { credentials.addPendingRevocation(refreshToken) }
        persist()
        lock?.unlock()
        guard let session = ending, let refreshToken = session.refreshToken else { return }
        switch scope {
        case .local:
            try await flushPendingRevocations()
        case .global:
            var token = session.accessToken
            if TokenTiming.needsRenewal(session, now: now(), margin: configuration.refreshMargin) {
                // Spend the refresh token once more, only to get a token for the logout call.
                let reply = try Self.requireSuccess(await api.refresh(refreshToken))
                token = try reply.decode(TokenResponse.self).accessToken
            }
            var request = api.json("POST", "/v1/logout", ["scope": "global"])
            request = api.authorize(request, with: token)
            try Self.requireSuccess(await api.send(request))
            // Every session ended with the global logout, this one included.
            credentials.pendingRevocations.removeAll { $0 == refreshToken }
            persist()
        }
    }

    /// Revokes the refresh tokens of earlier sign-outs that the server could not be told about
    /// (``StoredCredentials/pendingRevocations``). A token the server answered for — revoked, or
    /// refused as malformed — is forgotten; one it could not be asked about stays for the next try.
    ///
    /// - Throws: `.unavailable` when the server could not be reached; the rest stay pending.
    public func flushPendingRevocations() async throws {
        for refreshToken in credentials.pendingRevocations {
            switch await api.revoke(refreshToken) {
            case .success, .rejected:
                credentials.pendingRevocations.removeAll { $0 == refreshToken }
                persist()
            case .transient(let error, _):
                throw error
            }
        }
    }

    /// Ends every other session of the user (`POST /v1/logout` with scope `others`); this one stays.
    public func signOutOtherSessions() async throws {
        _ = try await tegataRequest(api.json("POST", "/v1/logout", ["scope": "others"]))
    }

    /// Deletes the account at the server: every session and token of the user stops working. Then
    /// forgets every credential, device credentials included.
    public func deleteAccount() async throws {
        _ = try await tegataRequest(api.request("DELETE", "/v1/me"))
        epoch += 1
        renewal = nil
        forgetInMemory(keepingDevice: false)
        setState(.signedOut)
        let lock = try? await lockStore()
        persist()
        lock?.unlock()
    }

    /// Clears the session (and the device credentials unless `keepingDevice`) in memory; the
    /// caller persists.
    private func forgetInMemory(keepingDevice: Bool) {
        // The DPoP key goes with the device credentials: an anonymous user's next session is bound
        // to the same key, a permanent user's sign-out leaves nothing of it behind.
        credentials = StoredCredentials(
            device: keepingDevice ? credentials.device : nil, session: nil, pendingRevocations: credentials.pendingRevocations,
            dpopKey: keepingDevice ? credentials.dpopKey : nil)
    }

    /// With ``TegataClientConfiguration/usesDPoP``, makes the DPoP key a new session is bound to
    /// if there is none yet (kept with the credentials saved after the sign-in).
    func ensureDPoPKey() {
        guard configuration.usesDPoP, credentials.dpopKey?.signingKey() == nil else { return }
        credentials.dpopKey = StoredDPoPKey.generate(preferSecureEnclave: configuration.preferSecureEnclave)
    }

    // MARK: Helpers

    /// Sends an authorised request to Tegata itself (retrying once after a 401, like `send(_:)`)
    /// and classifies the answer.
    func tegataRequest(_ request: URLRequest) async throws -> TegataAPI.Reply {
        let (data, response): (Data, HTTPURLResponse)
        do {
            (data, response) = try await send(request)
        } catch let error as TegataClientError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TegataClientError.unavailable("the server could not be reached (\(type(of: error)))")
        }
        return try Self.requireSuccess(TegataAPI.classify(data: data, response: response, receivedAt: now()))
    }

    @discardableResult
    static func requireSuccess(_ outcome: TegataAPI.Outcome) throws -> TegataAPI.Reply {
        switch outcome {
        case .success(let reply): return reply
        case .rejected(let error), .transient(let error, _): throw error
        }
    }
}
