import Foundation
import TegataTokens

/// What a resource server checks access tokens against.
public struct TegataVerifierConfiguration: Sendable {
    /// Tegata's issuer URL, exactly as in the tokens' `iss`. The keys are found through
    /// `<issuer>/.well-known/openid-configuration`, whose `issuer` must match.
    public var issuer: String
    /// The expected `aud` (Tegata's default: the issuer URL).
    public var audience: String
    /// Tolerated clock difference for `exp`, `nbf` and `iat`. Default 30 s.
    public var leeway: TimeInterval = 30
    /// How the key set is cached (Cache-Control bounds, refetch limit for unknown `kid`s).
    public var keySetPolicy = KeySetCache<VerificationKeys>.Policy()
    /// The revocation feed to follow; nil: revocations are seen only at `exp`.
    public var revocations: Revocations?
    /// How DPoP proofs are checked (``TegataVerifier/verify(_:dpopProof:method:url:)``).
    public var dpop = DPoP()

    /// The rules for DPoP proofs (RFC 9449) that come with DPoP-bound tokens.
    public struct DPoP: Sendable {
        /// How old a proof may be by its `iat` (plus ``TegataVerifierConfiguration/leeway`` either
        /// side). Default 60 s. Resource servers do not hand out nonces: a client with a clock
        /// further off than this cannot use them.
        public var maximumAge: TimeInterval = 60
        /// How many proofs the replay cache remembers (each until it could no longer be accepted).
        /// Full of live proofs, the verifier refuses new ones as it cannot check them
        /// (``TegataVerifierError/Code/dpopReplayCacheFull``, a 503). Default 100,000 (a few MB).
        public var replayCacheCapacity = 100_000

        /// The defaults.
        public init() {}
    }

    /// Following `GET /v1/revocations`.
    public struct Revocations: Sendable {
        /// The resource-server client's id (HTTP Basic, as configured in `TEGATA_INTROSPECTION_CLIENTS`).
        public var clientID: String
        /// The resource-server client's secret. Never logged.
        public var clientSecret: String
        /// How long each long poll waits at the server (at most 30). Default 25 s.
        public var wait: Int = 25
        /// How long the last successful poll may be ago before `failureMode` applies. Default 60 s.
        public var maximumStaleness: TimeInterval = 60
        /// What happens when the feed has been unreachable for longer than `maximumStaleness`.
        public var failureMode: FailureMode = .failClosed

        /// Credentials of a resource-server client.
        public init(clientID: String, clientSecret: String) {
            self.clientID = clientID
            self.clientSecret = clientSecret
        }
    }

    /// What an unreachable revocation feed does to verification, once past the bound.
    public enum FailureMode: Sendable, Equatable {
        /// Refuse every token (`revocationStatusUnknown`, a 503 for the caller): nothing revoked
        /// gets through, and nothing else does either.
        case failClosed
        /// Accept tokens on their signature and claims alone, as if there were no feed; each such
        /// acceptance is counted in a metric and logged.
        case failOpen
    }

    /// A configuration for tokens of `issuer`, for `audience` (default: the issuer).
    public init(issuer: String, audience: String? = nil) {
        self.issuer = issuer
        self.audience = audience ?? issuer
    }
}
