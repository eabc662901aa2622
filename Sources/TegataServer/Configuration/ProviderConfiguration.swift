import Foundation
import TegataTokens
import Yams

/// One external identity provider, as configured under `providers` (`TEGATA_PROVIDERS`). Presets
/// (`apple`, `google`, `line`) need only the audience; a generic `oidc` provider needs an issuer and
/// takes its keys from a JWKS URL or an OpenID discovery document.
public struct ProviderConfiguration: Sendable, Equatable {
    /// Which defaults apply.
    public enum Kind: String, Sendable, CaseIterable {
        /// Sign in with Apple.
        case apple
        /// Google.
        case google
        /// LINE Login / LIFF.
        case line
        /// Any OpenID Connect issuer (or any issuer of signed JWTs with a JWKS).
        case oidc
    }

    /// The name clients send as `provider`; also the identity's provider in `/v1/me`.
    public var name: String
    /// The preset.
    public var kind: Kind
    /// Accepted `iss` values.
    public var issuers: [String]
    /// Accepted audiences (bundle ID, client ID, channel ID…).
    public var audiences: [String]
    /// Where the keys are published.
    public var keys: KeySetLocation
    /// Accepted signature algorithms.
    public var algorithms: Set<ExternalAlgorithm>
    /// Whether a nonce is required.
    public var nonceRequired: Bool
    /// The claim holding the user's stable id.
    public var subjectClaim: String
    /// The `amr` value of the sessions it opens.
    public var amr: String
    /// Whether the token's `email` is stored with the identity.
    public var storeEmail: Bool
    /// LINE only: the channel secret, so that LINE Login's HS256-signed web ID tokens verify (the
    /// configured secret is the key; LIFF's and the apps' ES256 tokens still use LINE's JWKS).
    public var channelSecret: ProviderSecret?

    /// The fields a provider entry may have.
    static let fields: Set<String> = [
        "type", "issuer", "audiences", "audience", "jwks_url", "discovery_url", "algorithms", "nonce_required",
        "subject_claim", "amr", "store_email", "channel_secret",
    ]

    /// The presets' issuers, key URLs, algorithms and nonce rule, as the providers document them.
    static func preset(_ kind: Kind) -> (issuers: [String], keys: KeySetLocation?, algorithms: Set<ExternalAlgorithm>, nonce: Bool) {
        switch kind {
        case .apple:
            // https://developer.apple.com/documentation/signinwithapple/authenticating-users-with-sign-in-with-apple
            return (["https://appleid.apple.com"], .jwks("https://appleid.apple.com/auth/keys"), [.rs256], true)
        case .google:
            // https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken:
            // "The value of iss in the ID token is equal to accounts.google.com or https://accounts.google.com."
            // A nonce by default: Google's SDKs all let the app set one (Credential Manager's
            // setNonce, Google Identity Services' nonce, GoogleSignIn for iOS 7.1+).
            return (["https://accounts.google.com", "accounts.google.com"], .jwks("https://www.googleapis.com/oauth2/v3/certs"), [.rs256], true)
        case .line:
            // https://developers.line.biz/en/docs/line-login/verify-id-token/ (ES256, keys at /oauth2/v2.1/certs)
            // No nonce by default: LIFF's liff.getIDToken() gives the app no way to set one.
            return (["https://access.line.me"], .jwks("https://api.line.me/oauth2/v2.1/certs"), [.es256], false)
        case .oidc:
            return ([], nil, [.rs256], false)
        }
    }

    /// Parses the `providers` value: a mapping of names to entries, as YAML or JSON text.
    static func parseAll(_ text: String, fail: (String) -> ConfigurationError) throws -> [ProviderConfiguration] {
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw fail("must be a mapping of provider names to settings, as JSON or YAML")
        }
        guard let mapping = parsed as? [String: Any] else {
            throw fail("must be a mapping of provider names to settings, e.g. {\"apple\": {\"audiences\": [\"com.example.app\"]}}")
        }
        return try mapping.keys.sorted().map { name in
            guard let entry = mapping[name] as? [String: Any] else { throw fail("\(name): must be a mapping of settings") }
            return try ProviderConfiguration(name: name, entry: entry, fail: { fail("\(name): " + $0) })
        }
    }

    init(name: String, entry: [String: Any], fail: (String) -> ConfigurationError) throws {
        guard (1...32).contains(name.utf8.count), name.utf8.first.map({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) == true,
              name.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else { throw fail("a provider name must be 1 to 32 characters of a-z 0-9 _ -, starting with a letter") }
        if let unknown = entry.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw fail("unknown setting \"\(unknown)\" (known: \(Self.fields.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = entry[key] else { return nil }
            guard let text = value as? String, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw fail("\(key) must be a non-empty string")
            }
            return text
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = entry[key] else { return nil }
            if let single = value as? String { return [single] }
            guard let list = value as? [Any], !list.isEmpty, list.allSatisfy({ ($0 as? String).map { !$0.isEmpty } == true }) else {
                throw fail("\(key) must be a non-empty list of strings")
            }
            return list.compactMap { $0 as? String }
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = entry[key] else { return nil }
            if let flag = value as? Bool { return flag }
            if let text = value as? String, ["true", "false"].contains(text.lowercased()) { return text.lowercased() == "true" }
            throw fail("\(key) must be true or false")
        }

        let kindName = try string("type") ?? (Kind(rawValue: name) != nil ? name : Kind.oidc.rawValue)
        guard let kind = Kind(rawValue: kindName) else {
            throw fail("type must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let preset = Self.preset(kind)
        self.name = name
        self.kind = kind

        if let issuer = try string("issuer") {
            try Self.checkURL(issuer, what: "issuer", fail: fail)
            issuers = [issuer]
        } else {
            guard !preset.issuers.isEmpty else { throw fail("issuer is required for a provider of type oidc") }
            issuers = preset.issuers
        }

        guard let audiences = try strings("audiences") ?? strings("audience") else {
            throw fail("audiences is required (the app's bundle ID, client ID or channel ID that the provider puts in aud)")
        }
        self.audiences = audiences

        let jwksURL = try string("jwks_url")
        let discoveryURL = try string("discovery_url")
        switch (jwksURL, discoveryURL) {
        case (let jwks?, nil):
            try Self.checkURL(jwks, what: "jwks_url", fail: fail)
            keys = .jwks(jwks)
        case (nil, let discovery?):
            try Self.checkURL(discovery, what: "discovery_url", fail: fail)
            keys = .discovery(discovery, issuer: issuers[0])
        case (nil, nil):
            if let presetKeys = preset.keys, entry["issuer"] == nil {
                keys = presetKeys
            } else {
                // OpenID Connect Discovery §4: the configuration lives under the issuer.
                keys = .discovery(issuers[0] + "/.well-known/openid-configuration", issuer: issuers[0])
            }
        case (_?, _?):
            throw fail("give jwks_url or discovery_url, not both")
        }

        if let names = try strings("algorithms") {
            var algorithms: Set<ExternalAlgorithm> = []
            for name in names {
                guard let algorithm = ExternalAlgorithm(rawValue: name) else {
                    let never = name.lowercased() == "none" || name.uppercased().hasPrefix("HS")
                    throw fail(never
                        ? "algorithm \(name) is never accepted for a provider with public keys"
                        : "algorithm \(name) is not supported (supported: \(ExternalAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                algorithms.insert(algorithm)
            }
            self.algorithms = algorithms
        } else {
            algorithms = preset.algorithms
        }
        nonceRequired = try bool("nonce_required") ?? preset.nonce
        subjectClaim = try string("subject_claim") ?? "sub"
        let amr = try string("amr") ?? (kind == .oidc ? "oidc" : kind.rawValue)
        guard amr.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }), amr.utf8.count <= 32 else {
            throw fail("amr must be up to 32 printable ASCII characters without quotes or backslashes")
        }
        self.amr = amr
        storeEmail = try bool("store_email") ?? false
        if let secret = try string("channel_secret") {
            guard kind == .line else { throw fail("channel_secret is LINE's (type line) only") }
            // LINE's channel secrets are 32 hex characters; anything shorter is no HMAC key.
            guard secret.utf8.count >= 32 else { throw fail("channel_secret must be the channel's secret, at least 32 characters") }
            channelSecret = ProviderSecret(secret)
        } else {
            channelSecret = nil
        }
    }

    /// URLs must be https; plain http only on a loopback host (a local development or test provider).
    static func checkURL(_ text: String, what: String, fail: (String) -> ConfigurationError) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else {
            throw fail("\(what) must be an https URL (got \"\(text.prefix(80))\")")
        }
        guard scheme == "https" || (scheme == "http" && FetchPolicy.isLoopback(host: host)) else {
            throw fail("\(what) must be an https URL (plain http only on a loopback host)")
        }
    }
}
