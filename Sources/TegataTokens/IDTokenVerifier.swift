import Crypto
import Foundation
import TegataWire

/// What an external provider's ID token must satisfy, besides a signature by one of its keys.
public struct IDTokenRules: Sendable, Equatable {
    /// Accepted `iss` values, compared exactly.
    public var issuers: [String]
    /// Accepted audiences: the token's `aud` must contain one of them.
    public var audiences: [String]
    /// Accepted signature algorithms.
    public var algorithms: Set<ExternalAlgorithm>
    /// Whether a nonce must be present (on both sides).
    public var nonceRequired: Bool
    /// The claim that holds the provider's stable user id (`sub` unless configured otherwise).
    public var subjectClaim: String
    /// Clock leeway for `exp`, `nbf` and `iat`.
    public var leeway: TimeInterval
    /// The provider's own shared secret for HS256-signed ID tokens (LINE Login's web tokens are
    /// signed with the channel secret): the key is this configured secret, never anything the token
    /// names. Nil: HS256 is refused.
    public var hmacSecret: ProviderSecret?

    /// Creates rules.
    public init(
        issuers: [String], audiences: [String], algorithms: Set<ExternalAlgorithm>, nonceRequired: Bool,
        subjectClaim: String = "sub", leeway: TimeInterval = 30, hmacSecret: ProviderSecret? = nil
    ) {
        self.hmacSecret = hmacSecret
        self.issuers = issuers
        self.audiences = audiences
        self.algorithms = algorithms
        self.nonceRequired = nonceRequired
        self.subjectClaim = subjectClaim
        self.leeway = leeway
    }
}

/// A provider's shared secret (LINE's channel secret), never printed.
public struct ProviderSecret: Sendable, Equatable, CustomStringConvertible {
    let key: SymmetricKey

    /// The secret's UTF-8 bytes are the HMAC key (as LINE signs with the channel secret's text).
    public init(_ text: String) {
        key = SymmetricKey(data: Data(text.utf8))
    }

    public static func == (lhs: ProviderSecret, rhs: ProviderSecret) -> Bool {
        lhs.key.withUnsafeBytes { left in rhs.key.withUnsafeBytes { right in left.elementsEqual(right) } }
    }

    public var description: String { "ProviderSecret(redacted)" }
}

/// What a verified ID token says about its user.
public struct VerifiedIDToken: Sendable, Equatable {
    /// The provider's stable id of the user (the subject claim).
    public var subject: String
    /// The `email` claim, if any.
    public var email: String?
    /// The `email_verified` claim, if any (Apple sends it as the string `"true"`).
    public var emailVerified: Bool?
    /// What identifies this one token for replay detection: its `jti` when it has one, else the
    /// SHA-256 of its signed part (header and payload — not the signature, which an ECDSA signer's
    /// malleability would let an attacker re-encode). Never the token itself.
    public var replayKey: String = ""
    /// When the token expires (`exp`): how long its replay key must be remembered.
    public var expiresAt: Date = .distantPast
    /// Every claim of the token, as verified (for a sign-in claims hook).
    public var claims: [String: JSONValue] = [:]
}

/// Why an ID token was refused. The description is safe to send to a client: it never contains the
/// token or any claim value.
public struct IDTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reasons.
    public enum Reason: Sendable, Equatable {
        case malformed
        case unsupportedAlgorithm
        case wrongType
        case criticalHeader
        case unknownKey
        case badSignature
        case wrongIssuer
        case wrongAudience
        case wrongAuthorizedParty
        case expired
        case notYetValid
        case issuedInFuture
        case missingSubject
        case nonceMissingInToken
        case nonceMissingInRequest
        case nonceMismatch
        case nonceRequired
    }

    /// The reason.
    public let reason: Reason

    /// Creates an error.
    public init(_ reason: Reason) { self.reason = reason }

    /// A human text for the client.
    public var description: String {
        switch reason {
        case .malformed: "the ID token is not a well-formed JWS with a JSON claims object"
        case .unsupportedAlgorithm: "the ID token's alg is not one this provider is configured to accept"
        case .wrongType: "the token is not an ID token (typ)"
        case .criticalHeader: "the ID token has a crit header this server does not understand"
        case .unknownKey: "the ID token's kid is not among the provider's current keys"
        case .badSignature: "the ID token's signature does not verify with the provider's key"
        case .wrongIssuer: "the ID token's iss is not this provider's issuer"
        case .wrongAudience: "the ID token's aud does not include a configured audience"
        case .wrongAuthorizedParty: "the ID token has several audiences but no azp naming a configured audience"
        case .expired: "the ID token has expired"
        case .notYetValid: "the ID token is not valid yet (nbf)"
        case .issuedInFuture: "the ID token's iat is in the future"
        case .missingSubject: "the ID token has no subject"
        case .nonceMissingInToken: "a nonce was sent but the ID token carries none"
        case .nonceMissingInRequest: "the ID token carries a nonce but the request sent none"
        case .nonceMismatch: "the ID token's nonce is not the SHA-256 of the nonce sent"
        case .nonceRequired: "this provider requires a nonce"
        }
    }
}

/// Verifies an external provider's ID token against the provider's keys and rules. Pure: the keys,
/// the time and the nonce are arguments. Keys come only from the key set given — headers that point
/// elsewhere (`jku`, `x5u`, `x5c`, `jwk`) are never followed.
public enum IDTokenVerifier {
    /// Largest ID token looked at.
    public static let maximumLength = 16 * 1024

    /// The `alg` a token's header names, read without any check (to decide whether the provider's
    /// key set is needed at all: an HS256 token of a provider with a shared secret does not need it).
    public static func headerAlgorithm(of token: String) -> String? {
        guard token.utf8.count <= maximumLength, let dot = token.firstIndex(of: "."),
              let data = Base64URL.decode(token[..<dot]),
              let header = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return header["alg"] as? String
    }

    /// Verifies `token`. `rawNonce` is the nonce the client generated; the token's `nonce` claim
    /// must be the lowercase hex SHA-256 of it, and one without the other fails.
    public static func verify(
        _ token: String, keys: ExternalKeySet, rules: IDTokenRules, now: Date, rawNonce: String?
    ) throws(IDTokenError) -> VerifiedIDToken {
        guard token.utf8.count <= maximumLength else { throw IDTokenError(.malformed) }
        let segments = token.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        // Strict JSON before any reading: a repeated member name (two `aud`s, two `exp`s) would be
        // read one way here and another way by other parsers (RFC 7515 §4, RFC 7519 §4).
        guard segments.count == 3, let headerData = Base64URL.decode(utf8: segments[0]), StrictJSON.isValid(headerData),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let signature = Base64URL.decode(utf8: segments[2]), !signature.isEmpty
        else { throw IDTokenError(.malformed) }

        // The header first: the algorithm is allowed by configuration, never by the token alone.
        // HS256 only for a provider configured with its own shared secret (LINE's channel secret).
        guard let alg = header["alg"] as? String else { throw IDTokenError(.unsupportedAlgorithm) }
        let algorithm = ExternalAlgorithm(rawValue: alg)
        let hmacSecret = alg == "HS256" ? rules.hmacSecret : nil
        guard hmacSecret != nil || algorithm.map(rules.algorithms.contains) == true else { throw IDTokenError(.unsupportedAlgorithm) }
        if let typ = header["typ"] {
            // RFC 9068 §4: an access token (at+jwt) must never pass as an ID token.
            guard let text = typ as? String, ["jwt", "application/jwt"].contains(text.lowercased()) else {
                throw IDTokenError(.wrongType)
            }
        }
        guard header["crit"] == nil else { throw IDTokenError(.criticalHeader) }
        let kid: String?
        switch header["kid"] {
        case nil: kid = nil
        case let text as String: kid = text
        default: throw IDTokenError(.malformed)
        }
        let input = Data(token.utf8[segments[0].startIndex..<segments[1].endIndex])
        if let hmacSecret {
            guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: hmacSecret.key) else {
                throw IDTokenError(.badSignature)
            }
        } else if let algorithm {
            let candidates = keys.candidates(kid: kid, algorithm: algorithm)
            guard !candidates.isEmpty else { throw IDTokenError(.unknownKey) }
            guard candidates.contains(where: { $0.verifies(signature, over: input, algorithm: algorithm) }) else {
                throw IDTokenError(.badSignature)
            }
        }

        // The signature holds: now the claims.
        guard let payload = Base64URL.decode(utf8: segments[1]), StrictJSON.isValid(payload),
              let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else { throw IDTokenError(.malformed) }
        guard let iss = claims["iss"] as? String, rules.issuers.contains(iss) else { throw IDTokenError(.wrongIssuer) }
        let audiences: [String]
        switch claims["aud"] {
        case let single as String: audiences = [single]
        case let many as [Any]: audiences = many.compactMap { $0 as? String }
        default: audiences = []
        }
        guard audiences.contains(where: rules.audiences.contains) else { throw IDTokenError(.wrongAudience) }
        // OIDC Core §3.1.3.7: with several audiences, the party the token was issued to (azp) must
        // be present and be us — else a token meant for another client that merely lists us passes.
        if audiences.count > 1 {
            guard let azp = claims["azp"] as? String, rules.audiences.contains(azp) else {
                throw IDTokenError(.wrongAuthorizedParty)
            }
        }
        guard let exp = numericDate(claims["exp"]), let iat = numericDate(claims["iat"]) else { throw IDTokenError(.malformed) }
        let time = now.timeIntervalSince1970
        guard time < exp + rules.leeway else { throw IDTokenError(.expired) }
        guard iat <= time + rules.leeway else { throw IDTokenError(.issuedInFuture) }
        if claims["nbf"] != nil {
            guard let nbf = numericDate(claims["nbf"]) else { throw IDTokenError(.malformed) }
            guard nbf <= time + rules.leeway else { throw IDTokenError(.notYetValid) }
        }
        guard let subject = claims[rules.subjectClaim] as? String, !subject.isEmpty, subject.utf8.count <= 255 else {
            throw IDTokenError(.missingSubject)
        }
        try checkNonce(claims["nonce"], rawNonce: rawNonce, required: rules.nonceRequired)

        let verified: Bool?
        switch claims["email_verified"] {
        case let flag as Bool: verified = flag
        case let text as String: verified = text == "true" ? true : (text == "false" ? false : nil)
        default: verified = nil
        }
        let replayKey: String
        if let jti = claims["jti"] as? String, !jti.isEmpty, jti.utf8.count <= 255 {
            replayKey = "jti:" + jti
        } else {
            replayKey = "sha256:" + SHA256.hash(data: input).lowercaseHex
        }
        return VerifiedIDToken(
            subject: subject, email: claims["email"] as? String, emailVerified: verified, replayKey: replayKey,
            expiresAt: Date(timeIntervalSince1970: exp),
            claims: (try? JSONDecoder().decode([String: JSONValue].self, from: payload)) ?? [:])
    }

    /// The lowercase hex SHA-256 of a raw nonce: what the provider was asked to put in the token.
    public static func nonceDigest(_ rawNonce: String) -> String {
        SHA256.hash(data: Data(rawNonce.utf8)).lowercaseHex
    }

    private static func checkNonce(_ claim: Any?, rawNonce: String?, required: Bool) throws(IDTokenError) {
        switch (claim, rawNonce) {
        case (nil, nil):
            if required { throw IDTokenError(.nonceRequired) }
        case (nil, _?):
            throw IDTokenError(.nonceMissingInToken)
        case (_?, nil):
            throw IDTokenError(.nonceMissingInRequest)
        case (let value?, let raw?):
            guard let inToken = value as? String else { throw IDTokenError(.malformed) }
            let expected = nonceDigest(raw)
            // Not a secret, but compared without an early exit all the same.
            guard inToken.utf8.count == expected.utf8.count,
                  zip(inToken.utf8, expected.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
            else { throw IDTokenError(.nonceMismatch) }
        }
    }

    /// A JSON number of seconds (not a boolean, not a string).
    static func numericDate(_ value: Any?) -> TimeInterval? {
        guard let number = value as? NSNumber, !isBoolean(number) else { return nil }
        let seconds = number.doubleValue
        return seconds.isFinite ? seconds : nil
    }

    private static func isBoolean(_ number: NSNumber) -> Bool {
        // JSONSerialization gives booleans as NSNumber too; their type is the one of `true`.
        type(of: number) == type(of: NSNumber(value: true)) && String(cString: number.objCType) == "c"
    }
}
