/// Why an access token was rejected. The description never contains the token.
public struct AccessTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable, Sendable {
        case malformed
        case unsupportedAlgorithm
        case wrongType
        case unknownKey
        case badSignature
        case expired
        case notYetValid
        case issuedInFuture
        case wrongIssuer
        case wrongAudience
        case dpopBound
        case notDPoPBound
    }

    private let kind: Kind

    /// Not a compact JWS with a JSON header and the claims Tegata requires.
    public static let malformed = AccessTokenError(kind: .malformed)
    /// The header's `alg` is not on the allow-list or does not match the key.
    public static let unsupportedAlgorithm = AccessTokenError(kind: .unsupportedAlgorithm)
    /// The header's `typ` is not `at+jwt`.
    public static let wrongType = AccessTokenError(kind: .wrongType)
    /// No published key has the header's `kid`.
    public static let unknownKey = AccessTokenError(kind: .unknownKey)
    /// The signature does not verify.
    public static let badSignature = AccessTokenError(kind: .badSignature)
    /// `exp` has passed (beyond the leeway).
    public static let expired = AccessTokenError(kind: .expired)
    /// `nbf` is in the future (beyond the leeway).
    public static let notYetValid = AccessTokenError(kind: .notYetValid)
    /// `iat` is in the future (beyond the leeway).
    public static let issuedInFuture = AccessTokenError(kind: .issuedInFuture)
    /// `iss` is not this issuer.
    public static let wrongIssuer = AccessTokenError(kind: .wrongIssuer)
    /// `aud` is not the expected audience.
    public static let wrongAudience = AccessTokenError(kind: .wrongAudience)
    /// The token is bound to a DPoP key (`cnf.jkt`) and was presented as a bearer token.
    public static let dpopBound = AccessTokenError(kind: .dpopBound)
    /// The token is not bound to a DPoP key and was presented with `Authorization: DPoP`.
    public static let notDPoPBound = AccessTokenError(kind: .notDPoPBound)

    /// A human-readable reason, safe to return to the client.
    public var description: String {
        switch kind {
        case .malformed: "the access token is malformed"
        case .unsupportedAlgorithm: "the access token's algorithm is not accepted"
        case .wrongType: "the token is not an access token (typ must be at+jwt)"
        case .unknownKey: "the access token was signed by an unknown key"
        case .badSignature: "the access token's signature is invalid"
        case .expired: "the access token has expired"
        case .notYetValid: "the access token is not valid yet"
        case .issuedInFuture: "the access token was issued in the future"
        case .wrongIssuer: "the access token was issued by another issuer"
        case .wrongAudience: "the access token is for another audience"
        case .dpopBound: "the access token is bound to a DPoP key: present it as Authorization: DPoP with a DPoP proof"
        case .notDPoPBound: "the access token is not bound to a DPoP key: present it as Authorization: Bearer"
        }
    }
}
