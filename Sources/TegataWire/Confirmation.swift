/// The `cnf` (confirmation, RFC 7800) member of a DPoP-bound access token and of its introspection
/// answer: the RFC 7638 thumbprint of the key every request with the token must prove (RFC 9449 §6).
public struct Confirmation: Codable, Sendable, Hashable {
    /// The JWK SHA-256 thumbprint, base64url (`jkt`).
    public var jkt: String

    /// A confirmation by the key of thumbprint `jkt`.
    public init(jkt: String) { self.jkt = jkt }
}
