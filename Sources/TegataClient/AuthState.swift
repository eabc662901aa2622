import TegataWire

/// What the client knows about the user, as `TegataClient.authStates()` reports it.
public enum AuthState: Sendable, Equatable {
    /// Nobody is signed in: the app has not signed in yet, or signed out.
    case signedOut
    /// A user is signed in. The session may still need a refresh, which `accessToken()` does.
    case signedIn(UserSummary)
    /// The session ended at the server (revoked, expired, account deleted) and could not be renewed
    /// with this device's credentials: the app must ask the user to sign in. The client makes no
    /// further network call until a sign-in method is called.
    case signInRequired
}
