import Foundation

/// A device registration as stored: what a device sign-in decides from.
public struct StoredDevice: Sendable, Equatable {
    /// The user the device is registered to.
    public var userID: String
    /// The hash of the device secret.
    public var secretHash: Data
    /// When the registration was revoked (a logout that ended the device), if it was.
    public var revokedAt: Date?

    /// Creates a stored device value.
    public init(userID: String, secretHash: Data, revokedAt: Date?) {
        self.userID = userID
        self.secretHash = secretHash
        self.revokedAt = revokedAt
    }
}

/// What a device sign-in does, decided from the stored registration alone (pure: the store reads
/// the device row inside its transaction, asks, and carries the answer out).
public enum DeviceSignInDecision: Sendable, Equatable {
    /// The device is new: create the anonymous user `userID`, register the device to it, open the
    /// session.
    case register(userID: String)
    /// The device is known and the secret matches: record the sign-in on the device (time,
    /// platform) and open the session for `userID`.
    case signIn(userID: String)
    /// The secret does not match. Write nothing.
    case wrongSecret
    /// The secret matches but the registration was revoked. Write nothing.
    case deviceRevoked

    /// Decides for the presented credentials against `stored` (nil: no such device).
    ///
    /// The secret is checked before the revocation, so only someone holding the secret learns that
    /// the registration was revoked.
    public static func decide(stored: StoredDevice?, command: DeviceSignInCommand) -> DeviceSignInDecision {
        guard let stored else { return .register(userID: command.newUserID) }
        guard command.secretMatches(stored.secretHash) else { return .wrongSecret }
        guard stored.revokedAt == nil else { return .deviceRevoked }
        return .signIn(userID: stored.userID)
    }
}

extension DeviceSignInCommand {
    /// The session a successful sign-in of this command opens for `userID`: generation 0, `amr`
    /// `device`, used and rotated now.
    public func session(for userID: String) -> Session {
        Session(
            id: newSessionID, userID: userID, deviceID: credentials.deviceID, platform: credentials.platform,
            amr: ["device"], clientID: clientID, createdAt: now, lastRefreshedAt: now, generation: 0,
            absoluteExpiresAt: absoluteExpiresAt, revokedAt: nil)
    }
}

extension IdentitySignInCommand {
    /// The session a sign-in of this command opens for `userID`: generation 0, used and rotated now.
    public func session(for userID: String) -> Session {
        Session(
            id: newSessionID, userID: userID, deviceID: nil, platform: platform, amr: amr, clientID: clientID,
            createdAt: now, lastRefreshedAt: now, generation: 0, absoluteExpiresAt: absoluteExpiresAt, revokedAt: nil)
    }
}
