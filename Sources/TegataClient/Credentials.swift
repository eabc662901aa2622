import Foundation
import TegataWire

/// Everything a client keeps between launches, in one value so a store writes it atomically.
public struct StoredCredentials: Codable, Sendable, Equatable {
    /// This installation's device credentials, kept across sign-outs of an anonymous user.
    public var device: DeviceCredentials?
    /// The signed-in session, if any.
    public var session: SessionCredentials?
    /// Refresh tokens of sessions signed out while the server could not be told: kept (as safely
    /// as the session was) until their revocation is confirmed, so a failed revoke is retried
    /// instead of leaving a live session nobody can end. At most ``maximumPendingRevocations``.
    public var pendingRevocations: [String]
    /// The DPoP key sessions are bound to (``TegataClientConfiguration/usesDPoP``): kept with an
    /// anonymous user's device credentials, forgotten with them at a permanent user's sign-out.
    public var dpopKey: StoredDPoPKey?

    /// How many pending revocations are kept at most (the oldest are dropped beyond).
    public static let maximumPendingRevocations = 8

    /// Creates stored credentials.
    public init(
        device: DeviceCredentials? = nil, session: SessionCredentials? = nil, pendingRevocations: [String] = [],
        dpopKey: StoredDPoPKey? = nil
    ) {
        self.device = device
        self.session = session
        self.pendingRevocations = pendingRevocations
        self.dpopKey = dpopKey
    }

    /// Decodes stored credentials; stores written before pending revocations existed have none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        device = try container.decodeIfPresent(DeviceCredentials.self, forKey: .device)
        session = try container.decodeIfPresent(SessionCredentials.self, forKey: .session)
        pendingRevocations = try container.decodeIfPresent([String].self, forKey: .pendingRevocations) ?? []
        dpopKey = try container.decodeIfPresent(StoredDPoPKey.self, forKey: .dpopKey)
    }

    enum CodingKeys: String, CodingKey {
        case device, session
        case pendingRevocations = "pending_revocations"
        case dpopKey = "dpop_key"
    }

    /// Adds a refresh token to revoke later (once), dropping the oldest beyond the maximum.
    mutating func addPendingRevocation(_ refreshToken: String) {
        guard !pendingRevocations.contains(refreshToken) else { return }
        pendingRevocations.append(refreshToken)
        pendingRevocations = Array(pendingRevocations.suffix(Self.maximumPendingRevocations))
    }
}

extension StoredCredentials {
    /// The bytes a store keeps: JSON, dates as seconds since 1970.
    func encodedForStorage() throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        do { return try encoder.encode(self) } catch { throw TegataClientError.storage("cannot encode the credentials") }
    }

    /// Decodes what `encodedForStorage()` wrote; `store` names the place in the error.
    static func decodeFromStorage(_ data: Data, store: String) throws -> StoredCredentials {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do { return try decoder.decode(StoredCredentials.self, from: data) } catch {
            throw TegataClientError.storage("the \(store) is not valid")
        }
    }
}

/// The device id and secret an app generates once and presents at every device sign-in.
public struct DeviceCredentials: Codable, Sendable, Equatable {
    /// The device id: 36 characters of `[0-9a-f-]`.
    public var id: String
    /// The device secret: 43 characters of base64url (256 random bits).
    public var secret: String
    /// The user this device last signed in as; nil until a device sign-in succeeds. Device re-auth is
    /// used only for this user, so it never switches a signed-in user to another account.
    public var userID: String?

    /// Creates device credentials.
    public init(id: String, secret: String, userID: String? = nil) {
        self.id = id
        self.secret = secret
        self.userID = userID
    }

    /// Fresh credentials from the system's cryptographically secure generator.
    static func generate() -> DeviceCredentials {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let secret = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return DeviceCredentials(id: UUID().uuidString.lowercased(), secret: secret)
    }
}

/// A session's tokens, with the access token's expiry on this device's clock.
public struct SessionCredentials: Codable, Sendable, Equatable {
    /// The current access token.
    public var accessToken: String
    /// When this device received the access token (its clock).
    public var accessTokenReceivedAt: Date
    /// When the access token expires, on this device's clock (corrected for the server's clock).
    public var accessTokenExpiresAt: Date
    /// The current refresh token; nil once the server refused it (the session ended).
    public var refreshToken: String?
    /// The signed-in user.
    public var user: UserSummary

    /// Creates session credentials.
    public init(accessToken: String, accessTokenReceivedAt: Date, accessTokenExpiresAt: Date, refreshToken: String?, user: UserSummary) {
        self.accessToken = accessToken
        self.accessTokenReceivedAt = accessTokenReceivedAt
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.refreshToken = refreshToken
        self.user = user
    }
}
