/// A signing key's id (`kid`): the RFC 7638 thumbprint of its public key, so the same key always has
/// the same id wherever it is loaded from.
public struct KeyID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The `kid` string.
    public let rawValue: String

    /// Wraps a `kid` string.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The `kid` string.
    public var description: String { rawValue }
}
