import Foundation

/// What linking an external identity to a user does, decided from what is stored (pure).
public enum LinkDecision: Sendable, Equatable {
    /// Insert the identity for the user, and mark the user permanent (not anonymous).
    case link
    /// The identity is already the user's. Write nothing.
    case alreadyLinked
    /// Another user owns the identity. Write nothing.
    case ownedByAnotherUser
    /// The user has a different identity of the same provider. Write nothing.
    case providerAlreadyLinked
    /// There is no such user. Write nothing.
    case noSuchUser

    /// Decides from the identity's current owner (nil: nobody), whether the user exists, and the
    /// providers of the user's identities.
    public static func decide(
        provider: String, owner: String?, userID: String, userExists: Bool, userProviders: [String]
    ) -> LinkDecision {
        if let owner { return owner == userID ? .alreadyLinked : .ownedByAnotherUser }
        guard userExists else { return .noSuchUser }
        return userProviders.contains(provider) ? .providerAlreadyLinked : .link
    }
}

/// What unlinking a user's identity of one provider does, decided from what is stored (pure).
public enum UnlinkDecision: Sendable, Equatable {
    /// Delete the identity; with `becomesAnonymous`, the user had no other identity and is anonymous again.
    case unlink(becomesAnonymous: Bool)
    /// The user has no identity of that provider. Write nothing.
    case notLinked
    /// It is the user's last way to sign in. Write nothing.
    case lastWayToSignIn

    /// Decides from the providers of the user's identities and how many of its device
    /// registrations can still sign in (a revoked device is not a way back into the account).
    public static func decide(provider: String, userProviders: [String], usableDevices: Int) -> UnlinkDecision {
        guard userProviders.contains(provider) else { return .notLinked }
        let otherIdentities = userProviders.contains { $0 != provider }
        guard otherIdentities || usableDevices > 0 else { return .lastWayToSignIn }
        return .unlink(becomesAnonymous: !otherIdentities)
    }
}

/// What a sign-in with a verified external identity does, decided from the identity's owner (pure).
public enum IdentitySignInDecision: Sendable, Equatable {
    /// The identity is new: create the permanent user `userID` with it, and open the session.
    case create(userID: String)
    /// The identity is `userID`'s: store `email` on it when one was given, and open the session.
    case signIn(userID: String, updatingEmail: String?)

    /// Decides for `command` from the identity's current owner (nil: nobody).
    public static func decide(owner: String?, command: IdentitySignInCommand) -> IdentitySignInDecision {
        guard let owner else { return .create(userID: command.newUserID) }
        return .signIn(userID: owner, updatingEmail: command.identity.email)
    }
}
