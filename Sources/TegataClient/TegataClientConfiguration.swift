import Foundation

/// How a `TegataClient` talks to its server and when it renews tokens.
public struct TegataClientConfiguration: Sendable {
    /// The Tegata server's base URL (its issuer URL), e.g. `https://auth.example.com`.
    public var baseURL: URL
    /// The app's own APIs that `send(_:)` may attach the access token to, e.g.
    /// `https://api.example.com/v1/`: a request is authorised only when its URL has the scheme, host
    /// and port of `baseURL` or of one of these and its path lies under theirs. Any other URL is
    /// refused with `disallowedURL`, so a token is never sent to a place the app did not name.
    public var apiBaseURLs: [URL] = []
    /// The `platform` sent with device sign-ins (`ios`, `android`, `web`, `macos`, `linux`, …).
    public var platform: String
    /// Renew the access token when less than this is left (at most half its lifetime). Default 60 s.
    public var refreshMargin: TimeInterval = 60
    /// Whether a device user whose session ended is signed in again with this device's credentials
    /// before the client gives up with `signInRequired`. Default true.
    public var reauthenticateWithDevice = true
    /// How many times a request that failed for a transient reason (no answer, 5xx, 408, 429) is
    /// retried, with exponential backoff and jitter. Default 2 (three tries in all).
    public var maxRetries = 2
    /// The first retry's delay; each further retry doubles it. Default 0.5 s.
    public var retryDelay: Duration = .milliseconds(500)
    /// The longest `Retry-After` the client waits for; a longer one fails at once. Default 30 s.
    public var maxRetryAfter: TimeInterval = 30
    /// The timeout of each request to Tegata. Default 30 s.
    public var requestTimeout: TimeInterval = 30
    /// Whether sessions are bound to a key of this device (DPoP, RFC 9449; docs/dpop.md). The key
    /// is made at the first sign-in — in the Secure Enclave when ``preferSecureEnclave`` and the
    /// device has one, else in software — and kept with the credentials; every token request and
    /// every request with a bound token then carries a proof. The app's own APIs must accept
    /// DPoP-bound tokens (`TegataAuthMiddleware(publicBaseURL:)`). Default false.
    public var usesDPoP = false
    /// Whether a DPoP key goes in the Secure Enclave where there is one. Default true.
    public var preferSecureEnclave = true

    /// A configuration for the server at `baseURL`.
    public init(baseURL: URL, platform: String = TegataClientConfiguration.defaultPlatform) {
        self.baseURL = baseURL
        self.platform = platform
    }

    /// The platform this code runs on, as Tegata names platforms.
    public static var defaultPlatform: String {
        #if os(iOS)
        "ios"
        #elseif os(macOS)
        "macos"
        #elseif os(tvOS)
        "tvos"
        #elseif os(watchOS)
        "watchos"
        #elseif os(visionOS)
        "visionos"
        #elseif os(Android)
        "android"
        #elseif os(Linux)
        "linux"
        #elseif os(Windows)
        "windows"
        #else
        "other"
        #endif
    }
}
