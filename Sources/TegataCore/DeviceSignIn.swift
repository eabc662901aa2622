import Foundation
import TegataWire

/// The device grant: a device id and secret give an anonymous user, with no user action.
public struct DeviceSignIn: Sendable {
    /// Where users, devices and sessions live.
    public let store: any AccountStore
    /// Makes the token response.
    public let issuer: TokenIssuer
    /// The clock.
    public let clock: any TegataClock

    /// Creates the grant.
    public init(store: any AccountStore, issuer: TokenIssuer, clock: any TegataClock) {
        self.store = store
        self.issuer = issuer
        self.clock = clock
    }

    /// The result: whether the device was new, and the tokens.
    public struct Result: Sendable {
        /// True when this call registered the device (and created its user).
        public var registered: Bool
        /// The token response.
        public var tokens: TokenResponse
    }

    /// Signs the device in. Throws `invalid_request` for malformed input and `invalid_grant` for a
    /// wrong secret.
    public func signIn(_ request: DeviceSignInRequest) async throws -> Result {
        let credentials = try DeviceCredentials(
            deviceID: request.deviceID, secret: request.deviceSecret, platform: request.platform)
        let secrets = issuer.secrets
        let secret = credentials.secret
        let now = clock.now()
        let command = DeviceSignInCommand(
            credentials: credentials,
            secretMatches: { stored in secrets.verify(secret, against: stored) },
            secretHash: secrets.hash(secret),
            newUserID: RandomID.uuid(),
            newSessionID: RandomID.uuid(),
            clientID: issuer.policy.clientID,
            now: now,
            absoluteExpiresAt: now.addingTimeInterval(issuer.policy.sessions.absoluteLifetime))
        switch try await store.deviceSignIn(command) {
        case .registered(let record, let session):
            return Result(registered: true, tokens: try await issuer.tokenResponse(for: record, session: session, now: now))
        case .signedIn(let record, let session):
            return Result(registered: false, tokens: try await issuer.tokenResponse(for: record, session: session, now: now))
        case .wrongSecret:
            throw TegataError.wrongCredentials("the device secret does not match this device")
        case .deviceRevoked:
            throw TegataError.wrongCredentials("this device was signed out of its account; sign in again")
        }
    }
}
