import Foundation
import TegataWire

/// The device grant: a device id and secret give an anonymous user, with no user action.
public struct DeviceSignIn: Sendable {
    /// Where users, devices and sessions live.
    public let store: any AccountStore & SessionStore
    /// Makes the token response.
    public let issuer: TokenIssuer
    /// The clock.
    public let clock: any TegataClock
    /// The limits on registrations, attempts per device and failures per address.
    public let limits: RateLimits
    /// Where outcomes are reported.
    public let events: any SecurityEventSink
    /// The sign-in claims hook, called once the sign-in has committed.
    public let hook: SignInClaimsHook

    /// Creates the grant.
    public init(
        store: any AccountStore & SessionStore, issuer: TokenIssuer, clock: any TegataClock, limits: RateLimits = .off,
        events: any SecurityEventSink = NoSecurityEvents(), hook: SignInClaimsHook = .off
    ) {
        self.hook = hook
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.limits = limits
        self.events = events
    }

    /// The result: whether the device was new, and the tokens.
    public struct Result: Sendable {
        /// True when this call registered the device (and created its user).
        public var registered: Bool
        /// The token response.
        public var tokens: TokenResponse
        /// The new session's id.
        public var sessionID: String
    }

    /// Signs the device in. Throws `invalid_request` for malformed input, `invalid_grant` for a
    /// wrong secret, and `rate_limited` when the device id, the address's failures or (for a new
    /// device) the address's registrations are over their limit.
    public func signIn(_ request: DeviceSignInRequest, origin: RequestOrigin = .unknown) async throws -> Result {
        do {
            let result = try await signIn(request, address: origin.addressKey, origin: origin)
            events.record(
                .deviceSignIn(result.registered ? .registered : .signedIn, userID: result.tokens.user.id, sessionID: result.sessionID),
                origin: origin)
            return result
        } catch let error as TegataError where error.code == .rateLimited || error.code == .invalidRequest {
            events.record(.deviceSignIn(error.code == .rateLimited ? .rateLimited : .invalidRequest, userID: nil, sessionID: nil), origin: origin)
            throw error
        } catch let error as TegataError where error == SignInClaimsHook.refusal {
            events.record(.deviceSignIn(.hookFailed, userID: nil, sessionID: nil), origin: origin)
            throw error
        }
    }

    private func signIn(_ request: DeviceSignInRequest, address: String?, origin: RequestOrigin) async throws -> Result {
        let credentials = try DeviceCredentials(
            deviceID: request.deviceID, secret: request.deviceSecret, platform: request.platform)
        let secrets = issuer.secrets
        let secret = credentials.secret
        let now = clock.now()
        if let address { try limits.failedSignInsPerAddress?.check(address, now: now) }
        try limits.signInsPerDevice?.take(credentials.deviceID, now: now)
        let command = DeviceSignInCommand(
            credentials: credentials,
            secretMatches: { stored in secrets.verify(secret, against: stored) },
            secretHash: secrets.hash(secret),
            newUserID: RandomID.uuid(),
            newSessionID: RandomID.uuid(),
            clientID: issuer.policy.clientID,
            now: now,
            absoluteExpiresAt: now.addingTimeInterval(issuer.policy.sessions.absoluteLifetime),
            registrationLimit: address.flatMap { address in
                limits.registrationsPerAddress.map { SharedRateLimit(policy: $0, bucket: "\($0.name):\(address)") }
            })
        func signedIn(_ record: UserRecord, _ opened: Session, registered: Bool) async throws -> Result {
            let session = try await hook.apply(
                SignInHookRequest(user: record.user, newUser: registered, method: "device", sessionID: opened.id, appClaims: record.appClaims),
                session: opened, store: store, policy: issuer.policy, now: now)
            return Result(registered: registered, tokens: try await issuer.tokenResponse(for: record, session: session, now: now), sessionID: session.id)
        }
        switch try await store.deviceSignIn(command) {
        case .registered(let record, let session):
            return try await signedIn(record, session, registered: true)
        case .signedIn(let record, let session):
            return try await signedIn(record, session, registered: false)
        case .wrongSecret:
            if let address { limits.failedSignInsPerAddress?.record(address, now: now) }
            events.record(.deviceSignIn(.wrongSecret, userID: nil, sessionID: nil), origin: origin)
            throw TegataError.wrongCredentials("the device secret does not match this device")
        case .deviceRevoked:
            events.record(.deviceSignIn(.deviceRevoked, userID: nil, sessionID: nil), origin: origin)
            throw TegataError.wrongCredentials("this device was signed out of its account; sign in again")
        case .registrationLimited(let rejection):
            throw TegataError.rateLimited(rejection)
        case .userDisabled(let userID, let disabled):
            events.record(.deviceSignIn(.userDisabled, userID: userID, sessionID: nil), origin: origin)
            throw disabled.refusal
        }
    }
}
