import Crypto
import Foundation
import TegataTokens
import TegataWire

/// An external identity: a provider's user, as Tegata stores it (the minimum: no profile data, and
/// the e-mail address only where the operator turned that on).
public struct ExternalIdentity: Sendable, Equatable {
    /// The configured provider name (`apple`, `google`, `line`, …).
    public var provider: String
    /// The provider's stable user id.
    public var subject: String
    /// The e-mail address, only if the provider is configured to store it.
    public var email: String?

    /// Creates an identity.
    public init(provider: String, subject: String, email: String?) {
        self.provider = provider
        self.subject = subject
        self.email = email
    }
}

/// A verified external ID token: the identity it proves, and what replay detection needs.
public struct VerifiedExternalToken: Sendable, Equatable {
    /// The identity.
    public var identity: ExternalIdentity
    /// A digest that identifies this one token (provider, then its `jti` or signed part), stored
    /// until `expiresAt` so it is exchanged once only.
    public var replayKey: String
    /// When the token expires.
    public var expiresAt: Date
    /// Every claim of the token, as verified.
    public var claims: [String: JSONValue] = [:]
}

/// A configured external provider: its ID-token rules and its cached keys.
public struct IdentityProvider: Sendable {
    /// The configured name; the `provider` request parameter selects it.
    public let name: String
    /// The `amr` value of sessions it opens.
    public let amr: String
    /// What its ID tokens must satisfy.
    public let rules: IDTokenRules
    /// Whether the token's e-mail address is stored with the identity.
    public let storesEmail: Bool
    /// Its keys, fetched from the configured JWKS (or discovery) URL only.
    public let keys: KeySetCache<ExternalKeySet>

    /// Creates a provider.
    public init(name: String, amr: String, rules: IDTokenRules, storesEmail: Bool, keys: KeySetCache<ExternalKeySet>) {
        self.name = name
        self.amr = amr
        self.rules = rules
        self.storesEmail = storesEmail
        self.keys = keys
    }

    /// Verifies an ID token of this provider. A token whose `kid` is unknown gets one refetch of the
    /// keys (rate-limited by the cache). Throws `invalid_request` for a bad token (RFC 8693 §2.2.2)
    /// and `serviceUnavailable` when the provider's keys cannot be had at all.
    public func verify(_ token: String, rawNonce: String?, now: Date) async throws -> VerifiedExternalToken {
        let keySet: ExternalKeySet
        let algorithm = IDTokenVerifier.headerAlgorithm(of: token)
        if rules.hmacSecret != nil, algorithm == "HS256" {
            // Verified with the provider's configured secret (LINE's channel secret): its public
            // keys are not needed, and their being unreachable must not refuse the token.
            keySet = .empty
        } else if let algorithm, ExternalAlgorithm(rawValue: algorithm).map(rules.algorithms.contains) != true {
            // An algorithm this provider never accepts: refused at once, whether or not its keys can
            // be fetched (a 503 would tell the client to retry a token that can never pass).
            throw TegataError.invalidRequest(IDTokenError(.unsupportedAlgorithm).description)
        } else {
            do {
                keySet = try await keys.current()
            } catch {
                throw TegataError.serviceUnavailable("the keys of provider \(name) are not available; try again later")
            }
        }
        do {
            return try identity(IDTokenVerifier.verify(token, keys: keySet, rules: rules, now: now, rawNonce: rawNonce))
        } catch let error where error.reason == .unknownKey {
            guard let refreshed = await keys.refetchForUnknownKey() else { throw TegataError.invalidRequest(error.description) }
            do {
                return try identity(IDTokenVerifier.verify(token, keys: refreshed, rules: rules, now: now, rawNonce: rawNonce))
            } catch {
                throw TegataError.invalidRequest(error.description)
            }
        } catch {
            throw TegataError.invalidRequest(error.description)
        }
    }

    private func identity(_ token: VerifiedIDToken) -> VerifiedExternalToken {
        let digest = SHA256.hash(data: Data("\(name)\u{0}\(token.replayKey)".utf8)).lowercaseHex
        return VerifiedExternalToken(
            identity: ExternalIdentity(provider: name, subject: token.subject, email: storesEmail ? token.email : nil),
            replayKey: digest, expiresAt: token.expiresAt, claims: token.claims)
    }
}

/// The configured providers, by name.
public struct IdentityProviders: Sendable {
    private let byName: [String: IdentityProvider]

    /// Creates the registry.
    public init(_ providers: [IdentityProvider]) {
        byName = Dictionary(providers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The provider of that name; `invalid_request` if none is configured.
    public func provider(named name: String) throws -> IdentityProvider {
        guard let provider = byName[name] else {
            throw TegataError.invalidRequest("provider is not one this server is configured for")
        }
        return provider
    }

    /// Every provider, by name.
    public var all: [IdentityProvider] { byName.values.sorted { $0.name < $1.name } }

    /// True when no provider is configured.
    public var isEmpty: Bool { byName.isEmpty }
}

/// The parameters of a token exchange or an identity link (`subject_token`, `subject_token_type`,
/// `provider`, `nonce`).
public struct IDTokenPresentation: Sendable {
    /// The external ID token.
    public var subjectToken: String
    /// Must be `urn:ietf:params:oauth:token-type:id_token`.
    public var subjectTokenType: String
    /// The configured provider name.
    public var provider: String
    /// The raw nonce, if the client used one.
    public var nonce: String?

    /// The only subject token type accepted.
    public static let idTokenType = "urn:ietf:params:oauth:token-type:id_token"

    /// Creates a presentation.
    public init(subjectToken: String, subjectTokenType: String, provider: String, nonce: String?) {
        self.subjectToken = subjectToken
        self.subjectTokenType = subjectTokenType
        self.provider = provider
        self.nonce = nonce
    }

    /// Checks the type and the nonce's shape, then verifies the token with its provider.
    func verify(with providers: IdentityProviders, now: Date) async throws -> VerifiedExternalToken {
        guard subjectTokenType == Self.idTokenType else {
            throw TegataError.invalidRequest("subject_token_type must be \(Self.idTokenType)")
        }
        if let nonce, nonce.utf8.count > 512 { throw TegataError.invalidRequest("nonce must be at most 512 characters") }
        return try await providers.provider(named: provider).verify(subjectToken, rawNonce: nonce, now: now)
    }
}
