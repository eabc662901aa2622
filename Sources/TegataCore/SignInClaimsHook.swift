import Foundation
import TegataWire

/// What a sign-in claims hook is told: who signed in, how, into which session, and — for a sign-in
/// with an external provider — the identity and every claim of its verified ID token.
public struct SignInHookRequest: Sendable, Equatable {
    /// The user, as of after the sign-in.
    public var user: User
    /// True when the sign-in created the user.
    public var newUser: Bool
    /// `device`, or the configured provider's name.
    public var method: String
    /// The session the claims are for.
    public var sessionID: String
    /// The external identity signed in with (nil for a device sign-in).
    public var identity: ExternalIdentity?
    /// The verified ID token's claims (empty for a device sign-in).
    public var providerClaims: [String: JSONValue]
    /// The user's app claims (an operator's), which the answer adds to.
    public var appClaims: [String: JSONValue]
    /// True for a link of `identity` to the signed-in user (its session is the caller's), false
    /// for a sign-in (its session is new).
    public var link: Bool

    /// Creates a request.
    public init(
        user: User, newUser: Bool, method: String, sessionID: String, identity: ExternalIdentity? = nil,
        providerClaims: [String: JSONValue] = [:], appClaims: [String: JSONValue] = [:], link: Bool = false
    ) {
        self.link = link
        self.user = user
        self.newUser = newUser
        self.method = method
        self.sessionID = sessionID
        self.identity = identity
        self.providerClaims = providerClaims
        self.appClaims = appClaims
    }
}

/// The operator's endpoint that answers claims for a sign-in (the server's is an HTTP call signed
/// as Standard Webhooks specifies). Throws for anything but a good answer, in bounded time.
public protocol SignInClaimsSource: Sendable {
    /// The claims to store on the session.
    func claims(for request: SignInHookRequest) async throws -> [String: JSONValue]
}

/// The sign-in claims hook: after a sign-in has committed — never inside a transaction or a lock —
/// its source answers claims (``AppClaimRules``: at most 1000 bytes, no reserved name) that are
/// stored on the new session and carried, beside the user's app claims, by every access token of
/// the session, refreshes included. When the source fails (an error, a timeout, a bad answer) the
/// operator's ``FailureMode`` decides: refuse the sign-in with 503 (its session is ended before any
/// token of it is issued), or sign in without the hook's claims.
public struct SignInClaimsHook: Sendable {
    /// What a failing hook does to the sign-in.
    public enum FailureMode: String, Sendable, Equatable, CaseIterable {
        /// 503 `server_error`, "try again"; the session opened is ended, no token is issued.
        case refuse
        /// The sign-in succeeds without the hook's claims.
        case allow
    }

    /// The hook's outcome, for metrics: `ok`, `failed` (refused), `skipped` (signed in without it).
    public typealias Observer = @Sendable (_ result: String) -> Void

    let source: (any SignInClaimsSource)?
    let failure: FailureMode
    let observe: Observer

    /// No hook.
    public static let off = SignInClaimsHook(source: nil, failure: .refuse)

    /// A hook calling `source`.
    public init(source: (any SignInClaimsSource)?, failure: FailureMode, observe: @escaping Observer = { _ in }) {
        self.source = source
        self.failure = failure
        self.observe = observe
    }

    /// The answer when the hook failed and the operator chose to refuse.
    public static let refusal = TegataError.serviceUnavailable("the sign-in could not be completed (the claims hook failed); try again")

    /// Asks the hook for `session`'s claims and stores them on it; returns the session to issue
    /// tokens for. `store` and `policy` end the session when a failure refuses the sign-in.
    public func apply(
        _ request: SignInHookRequest, session: Session, store: any SessionStore, policy: TokenPolicy, now: Date
    ) async throws -> Session {
        guard let claims = try await ask(request, refused: {
            _ = try await store.revokeSession(
                id: session.id, ownedBy: nil, devices: .none, now: now, eventUntil: policy.revocationHorizon(from: now))
        }) else { return session }
        guard !claims.isEmpty else { return session }
        guard try await store.setSessionClaims(sessionID: session.id, claims: claims) else {
            throw TegataError.invalidGrant("the session ended while it was being opened; sign in again")
        }
        var claimed = session
        claimed.hookClaims = claims
        return claimed
    }

    /// For a link of an identity to a signed-in user: the hook's claims replace those of the
    /// caller's session (`sessionID`), carried from its next refresh. A failure that refuses
    /// answers 503 and leaves the session as it was; the link itself has been made.
    public func applyToLinkingSession(_ request: SignInHookRequest, store: any SessionStore) async throws {
        guard let claims = try await ask(request, refused: {}) else { return }
        _ = try await store.setSessionClaims(sessionID: request.sessionID, claims: claims)
    }

    /// The source's checked answer; nil when there is no hook or its failure is allowed. A refused
    /// failure runs `refused`, then throws ``refusal``.
    private func ask(_ request: SignInHookRequest, refused: () async throws -> Void) async throws -> [String: JSONValue]? {
        guard let source else { return nil }
        let claims: [String: JSONValue]
        do {
            claims = try await source.claims(for: request)
            _ = try AppClaimRules.check(claims)
        } catch {
            switch failure {
            case .allow:
                observe("skipped")
                return nil
            case .refuse:
                observe("failed")
                try await refused()
                throw Self.refusal
            }
        }
        observe("ok")
        return claims
    }
}
