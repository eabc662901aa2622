import Crypto
import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Makes the client's DPoP proofs (RFC 9449) and keeps the nonces servers hand out: one proof per
/// request, for its method and URL (without query), with the access token's hash when one goes
/// with it, and the latest `DPoP-Nonce` that request's server sent.
final class DPoPProver: Sendable {
    private struct State {
        var key: DPoPSigningKey?
        var stored: StoredDPoPKey?
        /// The latest nonce of each origin (`scheme://host:port`).
        var nonces: [String: String] = [:]
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date) { self.now = now }

    /// Follows the credentials' key (nil: no proofs).
    func use(_ stored: StoredDPoPKey?) {
        state.withLock { state in
            guard state.stored != stored else { return }
            state.stored = stored
            state.key = stored?.signingKey()
        }
    }

    /// Whether there is a key to make proofs with.
    var hasKey: Bool { state.withLock { $0.key != nil } }

    /// A proof for `request`, with `ath` for `accessToken`; nil without a key.
    func proof(for request: URLRequest, accessToken: String? = nil) -> String? {
        guard let url = request.url, let method = request.httpMethod else { return nil }
        let (key, nonce) = state.withLock { ($0.key, $0.nonces[Self.origin(of: url)]) }
        guard let key else { return nil }
        var components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        components?.query = nil
        components?.fragment = nil
        let htu = components?.string ?? url.absoluteString
        let header = #"{"alg":"ES256","jwk":\#(key.publicJWK),"typ":"dpop+jwt"}"#
        var claims = #"{"htm":\#(Self.quoted(method)),"htu":\#(Self.quoted(htu)),"iat":\#(Int(now().timeIntervalSince1970)),"jti":"\#(UUID().uuidString)""#
        if let accessToken { claims += #","ath":"\#(Base64URLText.encode(Data(SHA256.hash(data: Data(accessToken.utf8)))))""# }
        if let nonce { claims += #","nonce":\#(Self.quoted(nonce))"# }
        claims += "}"
        let input = Base64URLText.encode(Data(header.utf8)) + "." + Base64URLText.encode(Data(claims.utf8))
        guard let signature = try? key.sign(Data(input.utf8)) else { return nil }
        return input + "." + Base64URLText.encode(signature)
    }

    /// Keeps the `DPoP-Nonce` of `response` for its origin. True when the answer asks for a new
    /// proof with it (`use_dpop_nonce`, RFC 9449 §8 and §9).
    @discardableResult
    func record(_ response: HTTPURLResponse, data: Data, for url: URL?) -> Bool {
        guard let url, let nonce = response.value(forHTTPHeaderField: "DPoP-Nonce"), !nonce.isEmpty else { return false }
        state.withLock { $0.nonces[Self.origin(of: url)] = nonce }
        guard response.statusCode == 400 || response.statusCode == 401 else { return false }
        if response.value(forHTTPHeaderField: "WWW-Authenticate")?.contains(#"error="use_dpop_nonce""#) == true { return true }
        return (try? JSONDecoder().decode(ErrorBody.self, from: data))?.error == .useDPoPNonce
    }

    private static func origin(of url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(url.port ?? (scheme == "https" ? 443 : 80))"
    }

    private static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return String(decoding: (try? encoder.encode(text)) ?? Data(#""""#.utf8), as: UTF8.self)
    }
}
