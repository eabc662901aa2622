import Foundation
import TegataWire

/// An error of the Tegata client. Switch on `code`; the set of codes may grow.
public struct TegataClientError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarse enough to decide what the app does next.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The description of the code.
        public var description: String { name }

        /// The session ended and could not be renewed: show sign-in. The client stays in
        /// `AuthState.signInRequired` and makes no call until a sign-in method is used.
        public static let signInRequired = Code("signInRequired")
        /// Nobody is signed in, or `signOut()` ran while this operation was under way (its result
        /// was discarded, never stored).
        public static let signedOut = Code("signedOut")
        /// The server could not be reached or failed (network error, timeout, 5xx, 429) after the
        /// configured retries. The user stays signed in: try again later.
        public static let unavailable = Code("unavailable")
        /// The server refused the request (a 4xx other than one the client handles itself);
        /// `serverError` holds the server's error body.
        public static let rejected = Code("rejected")
        /// The server's answer was not what the contract says.
        public static let invalidResponse = Code("invalidResponse")
        /// The credential store failed to read, write or lock.
        public static let storage = Code("storage")
        /// `send(_:)` was asked to attach the access token to a URL that is neither under the Tegata
        /// server's URL nor under one of `apiBaseURLs`, or that is not https (plain http only to a
        /// loopback host). Nothing was sent.
        public static let disallowedURL = Code("disallowedURL")
    }

    /// What went wrong.
    public let code: Code
    /// The HTTP status, when the server answered.
    public let status: Int?
    /// The server's error body (`error`, `error_description`), when it sent one.
    public let serverError: ErrorBody?
    /// A human-readable explanation. Never contains a token or a secret.
    public let reason: String

    private init(_ code: Code, status: Int? = nil, serverError: ErrorBody? = nil, reason: String) {
        self.code = code
        self.status = status
        self.serverError = serverError
        self.reason = reason
    }

    /// A description for logs: the code, the status and the reason.
    public var description: String {
        var text = "TegataClientError.\(code): \(reason)"
        if let status { text += " (HTTP \(status)" + (serverError.map { ", \($0.error)" } ?? "") + ")" }
        return text
    }

    static let signInRequired = TegataClientError(.signInRequired, reason: "the session ended: sign in again")
    static let signedOut = TegataClientError(.signedOut, reason: "signed out")

    static func unavailable(_ reason: String, status: Int? = nil, body: ErrorBody? = nil) -> TegataClientError {
        TegataClientError(.unavailable, status: status, serverError: body, reason: reason)
    }

    static func rejected(status: Int, body: ErrorBody?) -> TegataClientError {
        TegataClientError(.rejected, status: status, serverError: body, reason: body?.errorDescription ?? "the server refused the request")
    }

    static func invalidResponse(_ reason: String, status: Int? = nil) -> TegataClientError {
        TegataClientError(.invalidResponse, status: status, reason: reason)
    }

    static func storage(_ reason: String) -> TegataClientError {
        TegataClientError(.storage, reason: reason)
    }

    static func disallowedURL(_ reason: String) -> TegataClientError {
        TegataClientError(.disallowedURL, reason: reason)
    }

    /// A 401 `invalid_grant` answer to a device sign-in: the secret is wrong or the device's
    /// registration was revoked. Those credentials will never sign in again.
    var meansDeadDeviceCredentials: Bool {
        code == .rejected && status == 401 && serverError?.error == .invalidGrant
    }
}
