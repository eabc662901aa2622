import Foundation

/// A JSON Web Key Set (RFC 7517 §5) as `/.well-known/jwks.json` serves it.
public struct JWKSDocument: Codable, Sendable, Equatable {
    /// The published public keys.
    public var keys: [PublicJWK]

    /// Creates a key set.
    public init(keys: [PublicJWK]) { self.keys = keys }
}

/// One public elliptic-curve key (RFC 7518 §6.2) with its `kid`, `alg` and `use`.
public struct PublicJWK: Codable, Sendable, Equatable {
    /// Key type, `EC`.
    public var kty: String
    /// Curve, `P-256`.
    public var crv: String
    /// The x coordinate, base64url.
    public var x: String
    /// The y coordinate, base64url.
    public var y: String
    /// Key id (the RFC 7638 thumbprint).
    public var kid: String
    /// Algorithm, `ES256`.
    public var alg: String
    /// Always `sig`.
    public var use: String

    /// Creates a public key entry.
    public init(kty: String = "EC", crv: String = "P-256", x: String, y: String, kid: String, alg: String = "ES256", use: String = "sig") {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.y = y
        self.kid = kid
        self.alg = alg
        self.use = use
    }
}

/// The answer of `POST /admin/v1/keys/rotate`.
public struct KeyRotationResponse: Codable, Sendable, Equatable {
    /// The new key's id.
    public var kid: String
    /// From when it signs new tokens.
    public var signsFrom: Date
    /// The keys published in the JWKS now, signing key first.
    public var publishedKids: [String]

    /// Creates the answer.
    public init(kid: String, signsFrom: Date, publishedKids: [String]) {
        self.kid = kid
        self.signsFrom = signsFrom
        self.publishedKids = publishedKids
    }

    enum CodingKeys: String, CodingKey {
        case kid
        case signsFrom = "signs_from"
        case publishedKids = "published_kids"
    }
}
