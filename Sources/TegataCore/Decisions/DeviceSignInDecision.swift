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
    /// A claim of an imported device of `userID` that has no secret yet: store the command's
    /// secret hash on it (and the sign-in's time and platform), open the session.
    case claim(userID: String)
    /// A claim that cannot be granted. Write nothing.
    case claimRefused(DeviceClaimRefusal, userID: String?)

    /// Decides for the presented credentials against `stored` (nil: no such device).
    ///
    /// The secret is checked before the revocation, so only someone holding the secret learns that
    /// the registration was revoked. An imported device has an empty secret hash: no secret
    /// matches it, so it signs in only once claimed.
    ///
    /// A claim (``DeviceSignInCommand/claimedUserID``) never registers a device. On a device that
    /// already has its secret, a claim with that very secret by its own user is an ordinary
    /// sign-in (a claim retried after its answer was lost); anything else is refused as
    /// `alreadyClaimed`, so the first claim wins and a second one, with another secret, gets
    /// nothing.
    public static func decide(stored: StoredDevice?, command: DeviceSignInCommand) -> DeviceSignInDecision {
        let matches = { (stored: StoredDevice) in !stored.secretHash.isEmpty && command.secretMatches(stored.secretHash) }
        if let claimed = command.claimedUserID {
            guard let stored else { return .claimRefused(.unknownDevice, userID: nil) }
            if stored.secretHash.isEmpty {
                guard stored.userID == claimed else { return .claimRefused(.wrongUser, userID: stored.userID) }
                guard stored.revokedAt == nil else { return .deviceRevoked }
                return .claim(userID: stored.userID)
            }
            guard stored.userID == claimed, matches(stored) else { return .claimRefused(.alreadyClaimed, userID: stored.userID) }
            guard stored.revokedAt == nil else { return .deviceRevoked }
            return .signIn(userID: stored.userID)
        }
        guard let stored else { return .register(userID: command.newUserID) }
        guard matches(stored) else { return .wrongSecret }
        guard stored.revokedAt == nil else { return .deviceRevoked }
        return .signIn(userID: stored.userID)
    }
}

/// Why a legacy device claim was refused (the audit trail's `reason`; the client is told only that
/// the device cannot be claimed, whatever the reason, so a claim reveals nothing of other users).
public enum DeviceClaimRefusal: String, Sendable, Equatable, CaseIterable {
    /// No device of that id.
    case unknownDevice = "unknown_device"
    /// The device is another user's than the claim names.
    case wrongUser = "wrong_user"
    /// The device has its secret already (claimed before, or registered by a sign-in), and the
    /// presented one is not it.
    case alreadyClaimed = "already_claimed"
}

extension DeviceSignInCommand {
    /// The session a successful sign-in of this command opens for `userID`: generation 0, `amr`
    /// `device`, used and rotated now.
    public func session(for userID: String) -> Session {
        Session(
            id: newSessionID, userID: userID, deviceID: credentials.deviceID, platform: credentials.platform,
            amr: ["device"], clientID: clientID, createdAt: now, lastRefreshedAt: now, generation: 0,
            absoluteExpiresAt: absoluteExpiresAt, revokedAt: nil, dpopThumbprint: dpopThumbprint)
    }
}

extension IdentitySignInCommand {
    /// The session a sign-in of this command opens for `userID`: generation 0, used and rotated now.
    public func session(for userID: String) -> Session {
        Session(
            id: newSessionID, userID: userID, deviceID: nil, platform: platform, amr: amr, clientID: clientID,
            createdAt: now, lastRefreshedAt: now, generation: 0, absoluteExpiresAt: absoluteExpiresAt, revokedAt: nil,
            dpopThumbprint: dpopThumbprint)
    }
}
