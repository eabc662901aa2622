/// An RFC 7662 introspection answer: `{"active": false}` or the token's claims.
public struct IntrospectionResponse: Codable, Sendable, Equatable {
    /// Whether the token is currently active.
    public var active: Bool
    /// `access_token` or `refresh_token`.
    public var tokenType: String?
    /// The user id.
    public var sub: String?
    /// The session id.
    public var sid: String?
    /// Expiry, Unix seconds.
    public var exp: Int64?
    /// Issued at, Unix seconds.
    public var iat: Int64?
    /// Not before, Unix seconds.
    public var nbf: Int64?
    /// The access token's id.
    public var jti: String?
    /// The client the token was issued to.
    public var clientID: String?
    /// Issuer.
    public var iss: String?
    /// Audience.
    public var aud: String?
    /// Authentication methods.
    public var amr: [String]?
    /// Anonymous user.
    public var anon: Bool?
    /// Token version.
    public var tv: Int64?
    /// Entitlements carried by the token.
    public var ent: [String: EntitlementGrant]?

    /// The inactive answer, which says nothing else (RFC 7662 §2.2).
    public static let inactive = IntrospectionResponse(active: false)

    /// Creates an answer.
    public init(
        active: Bool, tokenType: String? = nil, sub: String? = nil, sid: String? = nil, exp: Int64? = nil, iat: Int64? = nil,
        nbf: Int64? = nil, jti: String? = nil, clientID: String? = nil, iss: String? = nil, aud: String? = nil,
        amr: [String]? = nil, anon: Bool? = nil, tv: Int64? = nil, ent: [String: EntitlementGrant]? = nil
    ) {
        self.active = active
        self.tokenType = tokenType
        self.sub = sub
        self.sid = sid
        self.exp = exp
        self.iat = iat
        self.nbf = nbf
        self.jti = jti
        self.clientID = clientID
        self.iss = iss
        self.aud = aud
        self.amr = amr
        self.anon = anon
        self.tv = tv
        self.ent = ent
    }

    enum CodingKeys: String, CodingKey {
        case active, sub, sid, exp, iat, nbf, jti, iss, aud, amr, anon, tv, ent
        case tokenType = "token_type"
        case clientID = "client_id"
    }
}
