@_exported import TegataWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Tegata's client for apps: signs in (device, external provider), keeps the credentials in a
/// `CredentialStorage`, hands out valid access tokens and sends authorised requests.
///
/// - `accessToken()` returns the cached token while more than the refresh margin is left, else
///   renews it. Any number of concurrent callers share one renewal.
/// - Renewal walks a bounded chain: refresh token → (device users) device sign-in → the
///   `signInRequired` state. Transient failures are retried a bounded number of times with backoff
///   and never sign the user out; the next call tries again.
/// - `signOut()` wins over anything under way: a refresh or sign-in that started before it never
///   stores its result (and the session it produced is revoked).
/// - Clients sharing a store, in one process or several, take the store's lock around every
///   renewal and re-read the store, so they never spend the same refresh token twice.
public actor TegataClient {
    let configuration: TegataClientConfiguration
    let storage: any CredentialStorage
    let transport: any TegataTransport
    let api: TegataAPI
    let now: @Sendable () -> Date

    /// The credentials as this client last saw them (the store is the truth when the lock is held).
    /// The DPoP prover follows their key.
    var credentials: StoredCredentials {
        didSet { api.dpop.use(credentials.dpopKey) }
    }
    /// True when the last save failed: the store is behind memory and must not be adopted.
    var storeIsBehind = false
    private(set) var state: AuthState
    /// Moves on every sign-out and sign-in: work that began in an older epoch must not store anything.
    var epoch = 0
    /// The renewal under way, shared by every caller.
    var renewal: (id: Int, task: Task<SessionCredentials, any Error>)?
    var lastRenewalID = 0
    private var observers: [Int: AsyncStream<AuthState>.Continuation] = [:]
    private var lastObserverID = 0

    /// A client of the server in `configuration`, with credentials in `storage`.
    ///
    /// - Parameters:
    ///   - transport: how requests are sent; a `URLSession` by default.
    ///   - now: the local clock (tests move it).
    public init(
        configuration: TegataClientConfiguration, storage: any CredentialStorage,
        transport: any TegataTransport = URLSessionTransport(), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.storage = storage
        self.transport = transport
        self.now = now
        api = TegataAPI(
            baseURL: configuration.baseURL, transport: transport, timeout: configuration.requestTimeout, now: now,
            dpop: DPoPProver(now: now))
        credentials = ((try? storage.load()) ?? nil) ?? StoredCredentials()
        api.dpop.use(credentials.dpopKey)
        state = credentials.session.map { .signedIn($0.user) } ?? .signedOut
    }

    // MARK: State

    /// The signed-in user, or nil.
    public var currentUser: UserSummary? {
        if case .signedIn(let user) = state { return user }
        return nil
    }

    /// The current state now, then every change, until the stream is dropped.
    public func authStates() -> AsyncStream<AuthState> {
        let (stream, continuation) = AsyncStream.makeStream(of: AuthState.self, bufferingPolicy: .bufferingNewest(32))
        lastObserverID += 1
        let id = lastObserverID
        observers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeObserver(id) }
        }
        continuation.yield(state)
        return stream
    }

    private func removeObserver(_ id: Int) {
        observers[id] = nil
    }

    func setState(_ new: AuthState) {
        guard new != state else { return }
        state = new
        for continuation in observers.values { continuation.yield(new) }
    }

    // MARK: Tokens

    /// A valid access token: the cached one while more than the refresh margin is left, else a
    /// renewed one.
    ///
    /// - Throws: `TegataClientError` `.signInRequired` (show sign-in), `.signedOut` (nobody is
    ///   signed in), `.unavailable` (try later; the user stays signed in), `.storage`.
    public func accessToken() async throws -> String {
        if credentials.session == nil { try adoptSessionFromStore() }
        if let session = credentials.session, session.refreshToken != nil,
           !TokenTiming.needsRenewal(session, now: now(), margin: configuration.refreshMargin)
        {
            return session.accessToken
        }
        return try await renew(rejecting: nil).accessToken
    }

    /// The claims of a valid access token (renewed first when due, as ``accessToken()``): Tegata's
    /// (`sub`, `anon`, `ent`, …) and the app's own — those an operator or a sign-in hook set, such
    /// as `roles` or a game's player id — as the token carries them. For the app's own display and
    /// decisions: the client does not check the signature; servers verify the token instead.
    ///
    /// - Throws: as ``accessToken()``; `.invalidResponse` if the token's claims cannot be read.
    public func accessTokenClaims() async throws -> [String: JSONValue] {
        let token = try await accessToken()
        guard let claims = TokenTiming.claims(of: token) else {
            throw TegataClientError.invalidResponse("the access token's claims cannot be read")
        }
        return claims
    }

    /// Renews the session now, e.g. after a purchase, so the new access token carries the new
    /// entitlements. Returns the user.
    @discardableResult
    public func refreshSession() async throws -> UserSummary {
        if credentials.session == nil { try adoptSessionFromStore() }
        return try await renew(rejecting: credentials.session?.accessToken).user
    }

    /// Sends `request` with `Authorization: Bearer <access token>` — or, for a DPoP-bound token,
    /// `Authorization: DPoP <access token>` with a proof for this request (and once more with the
    /// server's nonce when it asks for one). After a 401 it renews the token and sends the request
    /// once more, never more often; the second answer is returned whatever it is. Transport errors
    /// are rethrown as they are.
    public func send(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        try Self.requireAllowedDestination(request.url, allowed: [configuration.baseURL] + configuration.apiBaseURLs)
        let token = try await accessToken()
        let first = try await api.transmit(api.authorize(request, with: token))
        guard first.1.statusCode == 401 else { return first }
        let renewed = try await renew(rejecting: token)
        guard renewed.accessToken != token else { return first }
        return try await api.transmit(api.authorize(request, with: renewed.accessToken))
    }

    /// Throws `disallowedURL` unless `url` is https (or plain http to a loopback host) and lies under
    /// one of `allowed`: the same scheme, host and port, and a path under the base's path.
    static func requireAllowedDestination(_ url: URL?, allowed: [URL]) throws {
        guard let url, let components = URLComponents(url: url, resolvingAgainstBaseURL: true),
              let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased(), !host.isEmpty
        else { throw TegataClientError.disallowedURL("the request has no absolute URL") }
        let loopback = host == "localhost" || host == "::1" || host == "[::1]" || host.split(separator: ".").first == "127"
            && host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw TegataClientError.disallowedURL("an access token is sent only over https (plain http only to a loopback host)")
        }
        func port(_ components: URLComponents) -> Int? { components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80) }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let matches = allowed.contains { base in
            guard let baseComponents = URLComponents(url: base, resolvingAgainstBaseURL: true),
                  baseComponents.scheme?.lowercased() == scheme, baseComponents.host?.lowercased() == host,
                  port(baseComponents) == port(components)
            else { return false }
            var basePath = baseComponents.percentEncodedPath
            if !basePath.hasSuffix("/") { basePath += "/" }
            return basePath == "/" || path.hasPrefix(basePath) || path + "/" == basePath
        }
        guard matches else {
            throw TegataClientError.disallowedURL(
                "\(scheme)://\(host) is neither the Tegata server nor one of the configured apiBaseURLs: the access token was not sent")
        }
    }

    /// With no session in memory: adopts one that another client sharing the store saved (an app
    /// that signed in while its widget was running), else throws what the state says.
    func adoptSessionFromStore() throws {
        if let stored = try loadStore(), let session = stored.session {
            credentials = stored
            setState(.signedIn(session.user))
            return
        }
        throw state == .signInRequired ? TegataClientError.signInRequired : TegataClientError.signedOut
    }

    // MARK: Storage

    func loadStore() throws -> StoredCredentials? {
        do { return try storage.load() } catch let error as TegataClientError { throw error } catch {
            throw TegataClientError.storage("cannot read the credentials: \(type(of: error))")
        }
    }

    /// Saves the in-memory credentials. A failure is remembered (`storeIsBehind`) and the save is
    /// retried under the next lock instead of adopting the store's older view.
    func persist() {
        do {
            if credentials == StoredCredentials() { try storage.delete() } else { try storage.save(credentials) }
            storeIsBehind = false
        } catch {
            storeIsBehind = true
        }
    }

    /// Takes the store's lock.
    func lockStore() async throws -> any CredentialStorageLock {
        do { return try await storage.lock() } catch let error as TegataClientError { throw error } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TegataClientError.storage("cannot lock the credentials: \(type(of: error))")
        }
    }

    /// With the lock held: makes memory agree with the store. The store wins, unless the last save
    /// failed (then memory is newer and is saved again). Throws `.signedOut` when another client
    /// sharing the store signed out.
    func syncWithStore() throws {
        if storeIsBehind {
            persist()
            if !storeIsBehind { return }
        }
        let stored = try loadStore() ?? StoredCredentials()
        guard stored != credentials else { return }
        let hadSession = credentials.session != nil
        credentials = stored
        if let session = stored.session {
            setState(.signedIn(session.user))
        } else if hadSession {
            setState(.signedOut)
            throw TegataClientError.signedOut
        }
    }

    /// Throws `.signedOut` when a sign-out (or a newer sign-in) happened since `epoch`.
    func check(_ epoch: Int) throws {
        guard epoch == self.epoch else { throw TegataClientError.signedOut }
    }
}
