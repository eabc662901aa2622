import Crypto
import Foundation
import TegataWire

/// A DPoP proof (RFC 9449 §4) whose form, header and signature were checked: an `ES256` JWS of
/// type `dpop+jwt`, signed by the public key it embeds as `jwk`. What it claims — the request
/// (``matches(method:url:)``), the time, the nonce, the access token (``proves(accessToken:)``) —
/// the caller checks against its own rules.
public struct DPoPProof: Sendable, Equatable {
    /// The RFC 7638 thumbprint of the proof's key: what a bound token's `cnf.jkt` holds.
    public let thumbprint: String
    /// The proof's unique id: a replay cache remembers it.
    public let jti: String
    /// The HTTP method it was made for.
    public let htm: String
    /// The HTTP URI it was made for (without query and fragment).
    public let htu: String
    /// When it was made, by the client's clock (Unix seconds, fractions dropped).
    public let iat: Int64
    /// The server nonce it carries, if any.
    public let nonce: String?
    /// The access-token hash it carries (`ath`), if any.
    public let ath: String?

    /// The longest proof read; a longer one is refused unread.
    public static let maximumLength = 4096
    /// The longest `jti` accepted.
    public static let maximumIDLength = 256

    /// Reads and verifies a compact proof. Throws ``DPoPProofError`` naming what is wrong, never
    /// echoing the proof.
    public static func verify(_ compact: String) throws(DPoPProofError) -> DPoPProof {
        guard compact.utf8.count <= maximumLength else { throw DPoPProofError("the DPoP proof is longer than \(maximumLength) bytes") }
        let segments = compact.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard segments.count == 3 else { throw DPoPProofError("the DPoP proof is not a compact JWS") }
        // Strict JSON first: a repeated member name would be read one way here and another elsewhere.
        guard let headerData = Base64URL.decode(utf8: segments[0]), StrictJSON.isValid(headerData),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any]
        else { throw DPoPProofError("the DPoP proof's header is not a JSON object") }
        guard let typ = header["typ"] as? String, typ.lowercased() == "dpop+jwt" else {
            throw DPoPProofError("the DPoP proof's typ must be dpop+jwt")
        }
        guard let alg = header["alg"] as? String, DPoPChallenge.algorithms.contains(alg) else {
            throw DPoPProofError("the DPoP proof's alg must be one of \(DPoPChallenge.algorithms.joined(separator: ", "))")
        }
        guard header["crit"] == nil else { throw DPoPProofError("the DPoP proof has a crit header this server does not understand") }
        let key = try publicKey(header["jwk"])

        guard let signature = Base64URL.decode(utf8: segments[2]), signature.count == 64,
              let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
        else { throw DPoPProofError("the DPoP proof's signature is not an ES256 signature") }
        let input = compact.utf8[segments[0].startIndex..<segments[1].endIndex]
        let digest = input.withContiguousStorageIfAvailable { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
            ?? SHA256.hash(data: Data(input))
        guard key.isValidSignature(ecdsa, for: digest) else {
            throw DPoPProofError("the DPoP proof's signature does not verify with its jwk")
        }

        guard let payload = Base64URL.decode(utf8: segments[1]), StrictJSON.isValid(payload),
              let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else { throw DPoPProofError("the DPoP proof's claims are not a JSON object") }
        func text(_ name: String, required: Bool) throws(DPoPProofError) -> String? {
            switch claims[name] {
            case nil where !required: return nil
            case let value as String where !value.isEmpty: return value
            default: throw DPoPProofError("the DPoP proof's \(name) must be a non-empty string")
            }
        }
        guard let jti = try text("jti", required: true), jti.utf8.count <= maximumIDLength else {
            throw DPoPProofError("the DPoP proof's jti must be at most \(maximumIDLength) bytes")
        }
        guard let seconds = IDTokenVerifier.numericDate(claims["iat"]), abs(seconds) < 1e15 else {
            throw DPoPProofError("the DPoP proof's iat must be a number of seconds")
        }
        return DPoPProof(
            thumbprint: SigningKey.thumbprint(of: key).rawValue, jti: jti, htm: try text("htm", required: true)!,
            htu: try text("htu", required: true)!, iat: Int64(seconds.rounded(.down)), nonce: try text("nonce", required: false),
            ath: try text("ath", required: false))
    }

    /// The embedded key: a public P-256 JWK, never one with its private part.
    private static func publicKey(_ value: Any?) throws(DPoPProofError) -> P256.Signing.PublicKey {
        guard let jwk = value as? [String: Any] else { throw DPoPProofError("the DPoP proof's header must carry its public key as jwk") }
        guard jwk["d"] == nil else { throw DPoPProofError("the DPoP proof's jwk holds a private key; send the public key only") }
        guard jwk["kty"] as? String == "EC", jwk["crv"] as? String == "P-256",
              let x = (jwk["x"] as? String).flatMap({ Base64URL.decode($0) }), x.count == 32,
              let y = (jwk["y"] as? String).flatMap({ Base64URL.decode($0) }), y.count == 32,
              let key = try? P256.Signing.PublicKey(x963Representation: [UInt8]([0x04]) + x + y)
        else { throw DPoPProofError("the DPoP proof's jwk must be a P-256 public key (kty EC, crv P-256, x, y)") }
        return key
    }

    /// Whether the proof was made for this request: `htm` equal to `method`, `htu` equal to `url`
    /// once both are normalised (RFC 3986 §6.2.2–6.2.3: scheme and host case, default port, an
    /// empty path) and their query and fragment dropped.
    public func matches(method: String, url: String) -> Bool {
        guard htm == method else { return false }
        // Clients send the URI as it is configured: the same text is parsed once, not twice.
        if htu == url { return Self.normalizedURI(url) != nil }
        guard let presented = Self.normalizedURI(htu), let expected = Self.normalizedURI(url) else { return false }
        return presented == expected
    }

    /// Whether `ath` is the hash of `accessToken` (base64url SHA-256 of its ASCII bytes).
    public func proves(accessToken: String) -> Bool {
        guard let ath else { return false }
        return ath == Self.accessTokenHash(accessToken)
    }

    /// `ath` for `accessToken`: base64url SHA-256 of its bytes.
    public static func accessTokenHash(_ accessToken: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(accessToken.utf8))))
    }

    /// Whether `iat` is within `maximumAge` before `now` (plus `leeway` either side).
    public func isFresh(at now: Date, maximumAge: TimeInterval, leeway: TimeInterval) -> Bool {
        let time = now.timeIntervalSince1970
        return Double(iat) >= time - maximumAge - leeway && Double(iat) <= time + leeway
    }

    /// `uri` as compared: `scheme://host[:port]/path`, scheme and host in lowercase, the default
    /// port dropped, `%xx` in uppercase; nil for anything but an absolute http(s) URI without user
    /// information.
    public static func normalizedURI(_ uri: String) -> String? {
        guard uri.utf8.count <= 2048, let components = URLComponents(string: uri),
              let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = components.percentEncodedHost?.lowercased(), !host.isEmpty,
              components.percentEncodedUser == nil, components.percentEncodedPassword == nil
        else { return nil }
        let port = components.port.flatMap { (scheme == "https" && $0 == 443) || (scheme == "http" && $0 == 80) ? nil : $0 }
        var path = components.percentEncodedPath
        if path.isEmpty { path = "/" }
        // Percent-encoding triplets compare in uppercase (RFC 3986 §6.2.2.1).
        if path.contains("%") {
            var bytes = Array(path.utf8)
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count {
                    for offset in 1...2 where (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(bytes[index + offset]) {
                        bytes[index + offset] -= 0x20
                    }
                    index += 3
                } else {
                    index += 1
                }
            }
            path = String(decoding: bytes, as: UTF8.self)
        }
        return "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")\(path)"
    }
}

/// Why a DPoP proof was refused: a text safe to send back (it never quotes the proof).
public struct DPoPProofError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason.
    public let description: String

    init(_ description: String) { self.description = description }
}
