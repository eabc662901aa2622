import Hummingbird
import TegataCore
import TegataTokens

/// The request context of every Tegata route.
public struct TegataRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// Who the bearer access token speaks for: set by ``AccessTokenAuthentication`` on the routes
    /// it guards, nil elsewhere.
    public var identity: Identity?
    /// The request's id (``RequestIDMiddleware``): the client's sane `X-Request-Id`, or a new one.
    public var requestID: String = ""
    /// The socket's peer (nil when the channel has no IP peer, as in router tests).
    public let peer: IPAddress?
    /// The client's address (``ClientAddressMiddleware``): the peer, or what trusted proxies report.
    public var clientAddress: IPAddress?

    /// Creates the context for a request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress.flatMap { IPAddress($0) }
    }

    /// The request's origin: the key of the core's per-address rate limits, and the address and
    /// request id of its audit events.
    public var origin: RequestOrigin {
        guard let clientAddress else { return RequestOrigin(addressKey: nil, requestID: requestID) }
        let address = clientAddress.description
        return RequestOrigin(
            addressKey: clientAddress.bytes.count == 4 ? address : clientAddress.rateLimitKey, address: address, requestID: requestID)
    }

    /// The identity of the request, or `invalid_token` (a route reached without the authentication
    /// middleware answers as if no token had been sent, never as if any token were good).
    public func requireIdentity() throws -> Identity {
        guard let identity else { throw TegataError.missingToken }
        return identity
    }

    /// The user record of the request's identity (on routes whose middleware loads it).
    public func requireUser() throws -> UserRecord {
        guard let user = try requireIdentity().user else {
            throw TegataError.invalidToken("the user of this access token no longer exists")
        }
        return user
    }
}

/// The verified bearer of an access token at Tegata's own endpoints.
public struct Identity: Sendable {
    /// The token's verified claims.
    public let claims: AccessTokenClaims
    /// Its live session.
    public let session: Session
    /// The user record, on routes that load it (``AccessTokenAuthentication/loadsUser``).
    public let user: UserRecord?

    /// The user's id (`sub`).
    public var userID: String { claims.sub }
}
