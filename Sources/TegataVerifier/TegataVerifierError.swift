import TegataTokens

/// Why a token was not accepted. Switch on `code`; the set of codes may grow.
public struct TegataVerifierError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The code's name.
        public var description: String { name }

        /// The token is not a valid access token of this issuer and audience: `reason` says why.
        public static let invalidToken = Code("invalidToken")
        /// The token was valid, but its session, its user's token version or the token itself was revoked.
        public static let revoked = Code("revoked")
        /// No signing keys could be had from the issuer (never fetched, and the issuer is unreachable).
        public static let keysUnavailable = Code("keysUnavailable")
        /// The revocation feed has been unreachable for longer than the bound, and the verifier fails
        /// closed.
        public static let revocationStatusUnknown = Code("revocationStatusUnknown")
        /// The migration adapter could not ask Tegata whether a legacy device is registered.
        public static let legacyCheckUnavailable = Code("legacyCheckUnavailable")
        /// A DPoP-bound token came without a valid proof for the request (RFC 9449 §7): `dpopReason` says why.
        public static let invalidDPoPProof = Code("invalidDPoPProof")
        /// The replay cache of DPoP proofs is full of proofs that have not expired: the proof cannot
        /// be checked for replay now (503).
        public static let dpopReplayCacheFull = Code("dpopReplayCacheFull")
    }

    /// The kind of failure.
    public let code: Code
    /// For `.invalidToken`: which check failed.
    public let reason: AccessTokenError?
    /// For `.invalidDPoPProof`: what is wrong with the proof (never the proof itself).
    public let dpopReason: String?

    private init(_ code: Code, reason: AccessTokenError? = nil, dpopReason: String? = nil) {
        self.code = code
        self.reason = reason
        self.dpopReason = dpopReason
    }

    /// The code, and the reason for an invalid token or proof. Never contains the token.
    public var description: String {
        if let dpopReason { return "\(code): \(dpopReason)" }
        return reason.map { "\(code): \($0)" } ?? "\(code)"
    }

    /// True when the answer should be 401 (the client must get a new token, or make a new proof);
    /// false when the fault is the verifier's (503: try again later).
    public var isClientError: Bool { code == .invalidToken || code == .revoked || code == .invalidDPoPProof }

    static func invalid(_ reason: AccessTokenError) -> TegataVerifierError { TegataVerifierError(.invalidToken, reason: reason) }
    static let revoked = TegataVerifierError(.revoked)
    static let keysUnavailable = TegataVerifierError(.keysUnavailable)
    static let revocationStatusUnknown = TegataVerifierError(.revocationStatusUnknown)
    static let legacyCheckUnavailable = TegataVerifierError(.legacyCheckUnavailable)
    static func invalidProof(_ reason: String) -> TegataVerifierError { TegataVerifierError(.invalidDPoPProof, dpopReason: reason) }
    static let dpopReplayCacheFull = TegataVerifierError(.dpopReplayCacheFull)
}
