import Foundation
import TegataWire

/// The token-exchange grant (RFC 8693): an external provider's ID token signs its user in, creating
/// the user on first sight.
public struct TokenExchange: Sendable {
    /// Users, identities and sessions.
    public let store: any AccountStore & SessionStore
    /// Makes the token response.
    public let issuer: TokenIssuer
    /// The configured providers.
    public let providers: IdentityProviders
    /// The clock.
    public let clock: any TegataClock
    /// The limits on exchanges per address and per external identity.
    public let limits: RateLimits
    /// Where outcomes are reported.
    public let events: any SecurityEventSink
    /// The sign-in claims hook, called once the sign-in has committed.
    public let hook: SignInClaimsHook

    /// Creates the grant.
    public init(
        store: any AccountStore & SessionStore, issuer: TokenIssuer, providers: IdentityProviders, clock: any TegataClock,
        limits: RateLimits = .off, events: any SecurityEventSink = NoSecurityEvents(), hook: SignInClaimsHook = .off
    ) {
        self.hook = hook
        self.events = events
        self.store = store
        self.issuer = issuer
        self.providers = providers
        self.clock = clock
        self.limits = limits
    }

    /// The platform recorded for a session when the client names none.
    public static let defaultPlatform = "unknown"

    /// Verifies the ID token and signs its user in with a new session, bound to the DPoP key
    /// `dpopKey` (the thumbprint of the request's verified proof) when there is one.
    /// `invalid_request` for a bad token or parameter (RFC 8693 §2.2.2); `rate_limited` when the
    /// address's exchanges, or the external identity's, are over their limit.
    public func exchange(
        _ presentation: IDTokenPresentation, platform: String?, origin: RequestOrigin = .unknown, dpopKey: String? = nil
    ) async throws -> TokenResponse {
        // The provider as a configured name only: a name the client made up is no label.
        let provider = (try? providers.provider(named: presentation.provider))?.name
        do {
            let (response, created, sessionID) = try await signIn(presentation, platform: platform, origin: origin, dpopKey: dpopKey)
            events.record(
                .tokenExchange(provider: provider, result: created ? .created : .signedIn, userID: response.user.id, sessionID: sessionID),
                origin: origin)
            return response
        } catch let refused as DisabledUser {
            events.record(.tokenExchange(provider: provider, result: .userDisabled, userID: refused.userID, sessionID: nil), origin: origin)
            throw refused.disabled.refusal
        } catch let error as TegataError {
            let result: SecurityEvent.TokenExchangeResult =
                if error.code == .rateLimited { .rateLimited }
                else if error == SignInClaimsHook.refusal { .hookFailed }
                else if error.isUnavailable { .unavailable }
                else if error == .idTokenReplayed { .replayed }
                else { .invalidToken }
            events.record(.tokenExchange(provider: provider, result: result, userID: nil, sessionID: nil), origin: origin)
            throw error
        }
    }

    private func signIn(
        _ presentation: IDTokenPresentation, platform: String?, origin: RequestOrigin, dpopKey: String?
    ) async throws -> (TokenResponse, created: Bool, sessionID: String) {
        let platform = try DeviceCredentials.validPlatform(platform ?? Self.defaultPlatform)
        let now = clock.now()
        if let address = origin.addressKey { try limits.exchangesPerAddress?.take(address, now: now) }
        // Counted before the one-time use of the ID token is recorded: a refused exchange leaves
        // the token usable once the limit recovers.
        let verified = try await presentation.verifyOnce(
            with: providers, store: store, leeway: issuer.policy.leeway, now: now,
            admit: { identity in try limits.exchangesPerSubject?.take("\(identity.provider)\u{0}\(identity.subject)", now: now) })
        let identity = verified.identity
        let amr = try providers.provider(named: identity.provider).amr
        let outcome = try await store.identitySignIn(IdentitySignInCommand(
            identity: identity, newUserID: RandomID.timeOrderedUUID(now: now), newSessionID: RandomID.timeOrderedUUID(now: now),
            clientID: issuer.policy.clientID, platform: platform, amr: [amr], now: now,
            absoluteExpiresAt: now.addingTimeInterval(issuer.policy.sessions.absoluteLifetime), dpopThumbprint: dpopKey))
        guard let opened = outcome.session else {
            throw DisabledUser(userID: outcome.record.user.id, disabled: outcome.record.user.disabled(at: now) ?? Disablement(since: now, until: nil))
        }
        let session = try await hook.apply(
            SignInHookRequest(
                user: outcome.record.user, newUser: outcome.created, method: identity.provider, sessionID: opened.id,
                identity: identity, providerClaims: verified.claims, appClaims: outcome.record.appClaims),
            session: opened, store: store, policy: issuer.policy, now: now)
        var response = try await issuer.tokenResponse(for: outcome.record, session: session, now: now)
        response.issuedTokenType = TokenResponse.accessTokenType
        return (response, outcome.created, session.id)
    }

    /// The identity's user is disabled: refused, and reported with the user's id.
    private struct DisabledUser: Error {
        let userID: String
        let disabled: Disablement
    }
}

/// Linking and unlinking the signed-in user's external identities.
public struct IdentityLinking: Sendable {
    /// Users and identities.
    public let store: any AccountStore & SessionStore
    /// The configured providers.
    public let providers: IdentityProviders
    /// The clock.
    public let clock: any TegataClock
    /// Clock leeway: a used ID token is remembered until its `exp` plus this.
    public let leeway: TimeInterval
    /// The sign-in claims hook, called once a link has committed.
    public let hook: SignInClaimsHook

    /// Creates the service.
    public init(
        store: any AccountStore & SessionStore, providers: IdentityProviders, clock: any TegataClock, leeway: TimeInterval = 30,
        hook: SignInClaimsHook = .off
    ) {
        self.hook = hook
        self.store = store
        self.providers = providers
        self.clock = clock
        self.leeway = leeway
    }

    /// Links the identity of a verified ID token to `userID`, then tells the claims hook (whose
    /// answer becomes the claims of `sessionID`, the caller's session). Returns the user afterwards
    /// and whether the link is new. `conflict` when another user owns the identity, or when the user
    /// already has another identity of that provider.
    public func link(
        _ presentation: IDTokenPresentation, toUser userID: String, session sessionID: String? = nil
    ) async throws -> (record: UserRecord, created: Bool) {
        let now = clock.now()
        let verified = try await presentation.verifyOnce(with: providers, store: store, leeway: leeway, now: now)
        let identity = verified.identity
        let result: (record: UserRecord, created: Bool)
        switch try await store.linkIdentity(identity, toUser: userID, now: now) {
        case .linked(let record): result = (record, true)
        case .alreadyLinked(let record): result = (record, false)
        case .ownedByAnotherUser: throw TegataError.conflict("this identity is already linked to another account")
        case .providerAlreadyLinked:
            throw TegataError.conflict("this account already has an identity of provider \(identity.provider); unlink it first")
        case .noSuchUser: throw TegataError.invalidToken("the user of this access token no longer exists")
        }
        if let sessionID {
            try await hook.applyToLinkingSession(
                SignInHookRequest(
                    user: result.record.user, newUser: false, method: identity.provider, sessionID: sessionID, identity: identity,
                    providerClaims: verified.claims, appClaims: result.record.appClaims, link: true),
                store: store)
        }
        return result
    }

    /// Unlinks the user's identity of `provider`. `not_found` if there is none; `conflict` if it is
    /// the user's last way to sign in.
    public func unlink(provider: String, fromUser userID: String) async throws -> UserRecord {
        switch try await store.unlinkIdentity(provider: provider, fromUser: userID) {
        case .unlinked(let record): return record
        case .notLinked: throw TegataError.notFound("this account has no identity of that provider")
        case .lastWayToSignIn:
            throw TegataError.conflict("this identity is the account's last way to sign in; link another one first")
        }
    }
}

extension TegataError {
    /// An ID token exchanged or linked before.
    static let idTokenReplayed = TegataError.invalidRequest("this ID token was already used; get a new one from the provider")
}

extension IDTokenPresentation {
    /// Verifies the ID token and records it as used, so that the same token is exchanged or linked
    /// once only: a leaked ID token (a provider without a nonce, or a nonce leaked with it) cannot
    /// be exchanged again until it expires. A second use is `invalid_request`.
    /// `admit` sees the verified identity before its token is recorded, and may refuse it.
    func verifyOnce(
        with providers: IdentityProviders, store: any AccountStore, leeway: TimeInterval, now: Date,
        admit: (ExternalIdentity) throws -> Void = { _ in }
    ) async throws -> VerifiedExternalToken {
        let verified = try await verify(with: providers, now: now)
        try admit(verified.identity)
        guard try await store.rememberSingleUse(key: verified.replayKey, until: verified.expiresAt.addingTimeInterval(leeway), now: now)
        else { throw TegataError.idTokenReplayed }
        return verified
    }
}
