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
    /// Until when legacy device claims are accepted (`TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL`); nil:
    /// never (the default).
    public let claimsOpenUntil: Date?
    /// Whether a sign-in (or a claim) must come with a DPoP proof (`TEGATA_DPOP_DEVICE_SIGN_IN=required`).
    public let dpopRequired: Bool

    /// Creates the grant.
    public init(
        store: any AccountStore & SessionStore, issuer: TokenIssuer, clock: any TegataClock, limits: RateLimits = .off,
        events: any SecurityEventSink = NoSecurityEvents(), hook: SignInClaimsHook = .off, claimsOpenUntil: Date? = nil,
        dpopRequired: Bool = false
    ) {
        self.dpopRequired = dpopRequired
        self.hook = hook
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.limits = limits
        self.events = events
        self.claimsOpenUntil = claimsOpenUntil
    }

    /// The result: whether the device was new, and the tokens.
    public struct Result: Sendable {
        /// True when this call registered the device (and created its user).
        public var registered: Bool
        /// The token response.
        public var tokens: TokenResponse
        /// The new session's id.
        public var sessionID: String
        /// True when this call claimed an imported device (stored its first secret).
        public var claimed = false
    }

    /// Signs the device in; with `dpopKey` (the thumbprint of the request's verified DPoP proof),
    /// the session is bound to that key. Throws `invalid_request` for malformed input,
    /// `invalid_grant` for a wrong secret, `invalid_dpop_proof` without a key when one is required,
    /// and `rate_limited` when the device id, the address's failures or (for a new device) the
    /// address's registrations are over their limit.
    public func signIn(_ request: DeviceSignInRequest, origin: RequestOrigin = .unknown, dpopKey: String? = nil) async throws -> Result {
        let address = origin.addressKey
        do {
            let credentials = try DeviceCredentials(deviceID: request.deviceID, secret: request.deviceSecret, platform: request.platform)
            try requireProof(dpopKey)
            let now = clock.now()
            if let address { try limits.failedSignInsPerAddress?.check(address, now: now) }
            try limits.signInsPerDevice?.take(credentials.deviceID, now: now)
            let result = try await open(credentials, claimedUserID: nil, now: now, address: address, dpopKey: dpopKey) { refusal, userID in
                switch refusal {
                case .wrongSecret:
                    if let address { limits.failedSignInsPerAddress?.record(address, now: now) }
                    events.record(.deviceSignIn(.wrongSecret, userID: nil, sessionID: nil), origin: origin)
                case .deviceRevoked: events.record(.deviceSignIn(.deviceRevoked, userID: nil, sessionID: nil), origin: origin)
                case .userDisabled: events.record(.deviceSignIn(.userDisabled, userID: userID, sessionID: nil), origin: origin)
                case .claimRefused: break  // not a claim
                }
            }
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

    /// The refusal a claim of any kind answers: the same text whatever the reason, so a claim tells
    /// nothing about devices or users (the audit trail has the reason).
    public static let claimRefusal = TegataError.wrongCredentials(
        "this device cannot be claimed: it is not an imported device of that user waiting for its first secret")

    /// A legacy device claim: stores the presented secret on the imported device `deviceID` of
    /// `userID` if that device has no secret yet, and signs in (the device signs in like any other
    /// from then on). Only while claims are open (`forbidden` otherwise); rate-limited per client
    /// address and per device id. A claim of a device that has that very secret already, by its
    /// user, is an ordinary sign-in, so a claim whose answer was lost can be sent again; any other
    /// claim of a device with a secret is refused (`invalid_grant`, as every refused claim).
    public func claim(_ request: DeviceClaimRequest, origin: RequestOrigin = .unknown, dpopKey: String? = nil) async throws -> Result {
        let address = origin.addressKey
        let now = clock.now()
        do {
            let credentials = try DeviceCredentials(deviceID: request.deviceID, secret: request.deviceSecret, platform: request.platform)
            try requireProof(dpopKey)
            guard WireIdentifier.isUserID(request.userID) else {
                throw TegataError.invalidRequest("user_id must be 1 to 128 of A-Z a-z 0-9 . _ : -")
            }
            guard let until = claimsOpenUntil, now < until else {
                events.record(.deviceClaim(.windowClosed, userID: nil, sessionID: nil), origin: origin)
                throw TegataError.forbidden("legacy device claims are not open on this server")
            }
            if let address { try limits.claimsPerAddress?.take(address, now: now) }
            try limits.signInsPerDevice?.take(credentials.deviceID, now: now)
            let result = try await open(
                credentials, claimedUserID: request.userID, now: now, address: nil, dpopKey: dpopKey
            ) { refusal, userID in
                let result: SecurityEvent.DeviceClaimResult = switch refusal {
                case .wrongSecret: .alreadyClaimed  // not decided for a claim; refused alike
                case .deviceRevoked: .deviceRevoked
                case .userDisabled: .userDisabled
                case .claimRefused(let reason): SecurityEvent.DeviceClaimResult(reason)
                }
                events.record(.deviceClaim(result, userID: userID, sessionID: nil), origin: origin)
            }
            events.record(
                .deviceClaim(result.claimed ? .claimed : .signedIn, userID: result.tokens.user.id, sessionID: result.sessionID),
                origin: origin)
            return result
        } catch let error as TegataError where error.code == .rateLimited || error.code == .invalidRequest {
            events.record(.deviceClaim(error.code == .rateLimited ? .rateLimited : .invalidRequest, userID: nil, sessionID: nil), origin: origin)
            throw error
        } catch let error as TegataError where error == SignInClaimsHook.refusal {
            events.record(.deviceClaim(.hookFailed, userID: nil, sessionID: nil), origin: origin)
            throw error
        }
    }

    /// Refuses a sign-in without a proof when the deployment requires one.
    private func requireProof(_ dpopKey: String?) throws {
        guard dpopRequired, dpopKey == nil else { return }
        throw TegataError.invalidDPoPProof("this server requires a DPoP proof (RFC 9449) with every device sign-in")
    }

    /// What the store refused, for the caller's events.
    private enum Refusal {
        case wrongSecret, deviceRevoked, userDisabled, claimRefused(DeviceClaimRefusal)
    }

    /// Runs the store's sign-in (or claim) and makes the token response; reports a refusal to
    /// `refused` (with the device's user where known) before throwing its error.
    private func open(
        _ credentials: DeviceCredentials, claimedUserID: String?, now: Date, address: String?, dpopKey: String?,
        refused: (Refusal, String?) -> Void
    ) async throws -> Result {
        let secrets = issuer.secrets
        let secret = credentials.secret
        let command = DeviceSignInCommand(
            credentials: credentials,
            secretMatches: { stored in secrets.verify(secret, against: stored) },
            secretHash: secrets.hash(secret),
            newUserID: RandomID.timeOrderedUUID(now: now),
            newSessionID: RandomID.timeOrderedUUID(now: now),
            clientID: issuer.policy.clientID,
            now: now,
            absoluteExpiresAt: now.addingTimeInterval(issuer.policy.sessions.absoluteLifetime),
            registrationLimit: address.flatMap { address in
                limits.registrationsPerAddress.map { SharedRateLimit(policy: $0, bucket: "\($0.name):\(address)") }
            },
            claimedUserID: claimedUserID, dpopThumbprint: dpopKey)
        func signedIn(_ record: UserRecord, _ opened: Session, registered: Bool, claimed: Bool = false) async throws -> Result {
            let session = try await hook.apply(
                SignInHookRequest(user: record.user, newUser: registered, method: "device", sessionID: opened.id, appClaims: record.appClaims),
                session: opened, store: store, policy: issuer.policy, now: now)
            return Result(
                registered: registered, tokens: try await issuer.tokenResponse(for: record, session: session, now: now),
                sessionID: session.id, claimed: claimed)
        }
        switch try await store.deviceSignIn(command) {
        case .registered(let record, let session):
            return try await signedIn(record, session, registered: true)
        case .signedIn(let record, let session):
            return try await signedIn(record, session, registered: false)
        case .claimed(let record, let session):
            return try await signedIn(record, session, registered: false, claimed: true)
        case .wrongSecret:
            refused(.wrongSecret, nil)
            throw TegataError.wrongCredentials("the device secret does not match this device")
        case .deviceRevoked:
            refused(.deviceRevoked, nil)
            throw TegataError.wrongCredentials("this device was signed out of its account; sign in again")
        case .registrationLimited(let rejection):
            throw TegataError.rateLimited(rejection)
        case .userDisabled(let userID, let disabled):
            refused(.userDisabled, userID)
            throw disabled.refusal
        case .claimRefused(let reason, let userID):
            refused(.claimRefused(reason), userID)
            throw Self.claimRefusal
        }
    }
}
