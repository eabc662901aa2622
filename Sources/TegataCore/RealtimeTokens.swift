import Crypto
import Foundation
import TegataTokens

/// Centrifugo-compatible tokens: a connection token (`sub`, `exp`, `iat`, `info`) and channel
/// subscription tokens (`sub`, `channel`, `exp`, `iat`), signed HS256 with a secret shared with
/// Centrifugo, or ES256 with the server's own key (Centrifugo then verifies them from Tegata's JWKS).
/// See https://centrifugal.dev/docs/server/authentication and
/// https://centrifugal.dev/docs/server/channel_token_auth.
public struct RealtimeTokens: Sendable {
    /// How tokens are signed.
    public enum Signing: Sendable {
        /// HS256 with a secret configured in Centrifugo too (`client.token.hmac_secret_key`).
        case hmac(SymmetricKey)
        /// ES256 with the server's signing key (`client.token.jwks_public_endpoint` in Centrifugo).
        case serverKey(ServerKeys)
    }

    /// The signing method.
    public let signing: Signing
    /// Token lifetime.
    public let lifetime: TimeInterval
    /// Channel namespaces a subscription token may be had for.
    public let namespaces: Set<String>
    /// The clock.
    public let clock: any TegataClock

    /// Creates the issuer.
    public init(signing: Signing, lifetime: TimeInterval, namespaces: Set<String>, clock: any TegataClock) {
        self.signing = signing
        self.lifetime = lifetime
        self.namespaces = namespaces
        self.clock = clock
    }

    /// Centrifugo's separator between namespace and channel name, and its user-limited channel boundary.
    static let namespaceBoundary: Character = ":"
    static let userBoundary: Character = "#"

    /// A connection token for `user`: `info` carries its public fields (`id`, `anon`, `created_at`).
    public func connectionToken(for user: User) throws -> (token: String, expiresIn: Int) {
        let now = Int64(clock.now().timeIntervalSince1970)
        let info: [String: Any] = ["id": user.id, "anon": user.anon, "created_at": ISO8601DateFormatter().string(from: user.createdAt)]
        return (try sign(["sub": user.id, "iat": now, "exp": now + Int64(lifetime), "info": info]), Int(lifetime))
    }

    /// A subscription token for `channel`, if the policy lets `userID` subscribe: the channel's
    /// namespace (the part before `:`) must be configured, and a user-limited channel (`…#<ids>`)
    /// must name exactly this user. Otherwise `forbidden`.
    public func subscriptionToken(channel: String, userID: String) throws -> (token: String, expiresIn: Int) {
        try Self.checkName(channel)
        guard let colon = channel.firstIndex(of: Self.namespaceBoundary), namespaces.contains(String(channel[..<colon])) else {
            throw TegataError.forbidden("the channel's namespace is not open to subscription tokens")
        }
        if let hash = channel.firstIndex(of: Self.userBoundary) {
            guard channel[channel.index(after: hash)...] == userID else {
                throw TegataError.forbidden("this user-limited channel belongs to another user")
            }
        }
        let now = Int64(clock.now().timeIntervalSince1970)
        return (try sign(["sub": userID, "channel": channel, "iat": now, "exp": now + Int64(lifetime)]), Int(lifetime))
    }

    /// Channel names: 1 to 255 printable ASCII characters.
    static func checkName(_ channel: String) throws {
        guard (1...255).contains(channel.utf8.count), channel.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw TegataError.invalidRequest("channel must be 1 to 255 printable ASCII characters without spaces")
        }
    }

    private func sign(_ claims: [String: Any]) throws -> String {
        let payload = Array(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        switch signing {
        case .serverKey(let keys):
            return try keys.ring(at: clock.now()).signJWT(payload: payload)
        case .hmac(let key):
            let input = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(payload)
            return input + "." + Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: key)))
        }
    }
}
