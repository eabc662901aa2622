import Crypto
import Foundation

/// A DPoP key and the proofs it makes, written for the tests from RFC 9449 with nothing but
/// swift-crypto and string formatting — none of Tegata's own JOSE code — so that the server's and
/// the verifier's rules are checked against an independent implementation. Every part a test
/// wants to get wrong can be set.
public struct TestDPoPKey: Sendable {
    /// The private key.
    public let privateKey: P256.Signing.PrivateKey

    /// A new key.
    public init() { privateKey = P256.Signing.PrivateKey() }

    /// `x` and `y`, base64url.
    public var coordinates: (x: String, y: String) {
        let raw = privateKey.publicKey.x963Representation
        return (Self.base64url(raw[1..<33]), Self.base64url(raw[33..<65]))
    }

    /// The public JWK as JSON text.
    public var publicJWK: String {
        let (x, y) = coordinates
        return #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)"}"#
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    public var thumbprint: String {
        let (x, y) = coordinates
        return Self.base64url(Data(SHA256.hash(data: Data(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#.utf8))))
    }

    /// A proof for `method` `url` at `iat`. `accessToken` adds its `ath`; `nonce` the server's
    /// nonce. The rest is for tests of refusals: another `typ`, `alg` or header JWK, a fixed `jti`,
    /// extra header JSON, and a key to sign with other than the one the header names.
    public func proof(
        _ method: String, _ url: String, iat: Date, accessToken: String? = nil, nonce: String? = nil, jti: String = UUID().uuidString,
        typ: String = "dpop+jwt", alg: String = "ES256", jwk: String? = nil, extraHeader: String = "",
        signer: P256.Signing.PrivateKey? = nil, iatValue: String? = nil
    ) -> String {
        let header = #"{"typ":"\#(typ)","alg":"\#(alg)","jwk":\#(jwk ?? publicJWK)\#(extraHeader)}"#
        var claims = #"{"jti":"\#(jti)","htm":"\#(method)","htu":"\#(url)","iat":\#(iatValue ?? String(Int(iat.timeIntervalSince1970)))"#
        if let accessToken {
            claims += #","ath":"\#(Self.base64url(Data(SHA256.hash(data: Data(accessToken.utf8)))))""#
        }
        if let nonce { claims += #","nonce":"\#(nonce)""# }
        claims += "}"
        let input = Self.base64url(Data(header.utf8)) + "." + Self.base64url(Data(claims.utf8))
        let signature = try! (signer ?? privateKey).signature(for: Data(input.utf8))
        return input + "." + Self.base64url(signature.rawRepresentation)
    }

    /// Base64url without padding (RFC 7515 §2).
    public static func base64url(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
