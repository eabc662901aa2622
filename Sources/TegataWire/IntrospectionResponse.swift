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
    /// The key a DPoP-bound access token is bound to (RFC 9449 §6.2); absent for a bearer token.
    public var cnf: Confirmation?
    /// The app claims the token carries, at the top level beside the others (``AppClaimRules``).
    public var app: [String: JSONValue]

    /// The inactive answer, which says nothing else (RFC 7662 §2.2).
    public static let inactive = IntrospectionResponse(active: false)

    /// Creates an answer.
    public init(
        active: Bool, tokenType: String? = nil, sub: String? = nil, sid: String? = nil, exp: Int64? = nil, iat: Int64? = nil,
        nbf: Int64? = nil, jti: String? = nil, clientID: String? = nil, iss: String? = nil, aud: String? = nil,
        amr: [String]? = nil, anon: Bool? = nil, tv: Int64? = nil, ent: [String: EntitlementGrant]? = nil,
        cnf: Confirmation? = nil, app: [String: JSONValue] = [:]
    ) {
        self.cnf = cnf
        self.app = app
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
        case active, sub, sid, exp, iat, nbf, jti, iss, aud, amr, anon, tv, ent, cnf
        case tokenType = "token_type"
        case clientID = "client_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        active = try c.decode(Bool.self, forKey: .active)
        tokenType = try c.decodeIfPresent(String.self, forKey: .tokenType)
        sub = try c.decodeIfPresent(String.self, forKey: .sub)
        sid = try c.decodeIfPresent(String.self, forKey: .sid)
        exp = try c.decodeIfPresent(Int64.self, forKey: .exp)
        iat = try c.decodeIfPresent(Int64.self, forKey: .iat)
        nbf = try c.decodeIfPresent(Int64.self, forKey: .nbf)
        jti = try c.decodeIfPresent(String.self, forKey: .jti)
        clientID = try c.decodeIfPresent(String.self, forKey: .clientID)
        iss = try c.decodeIfPresent(String.self, forKey: .iss)
        aud = try c.decodeIfPresent(String.self, forKey: .aud)
        amr = try c.decodeIfPresent([String].self, forKey: .amr)
        anon = try c.decodeIfPresent(Bool.self, forKey: .anon)
        tv = try c.decodeIfPresent(Int64.self, forKey: .tv)
        ent = try c.decodeIfPresent([String: EntitlementGrant].self, forKey: .ent)
        cnf = try c.decodeIfPresent(Confirmation.self, forKey: .cnf)
        app = try AppClaimRules.decodeAppClaims(from: decoder, besides: CodingKeys.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(active, forKey: .active)
        try c.encodeIfPresent(tokenType, forKey: .tokenType)
        try c.encodeIfPresent(sub, forKey: .sub)
        try c.encodeIfPresent(sid, forKey: .sid)
        try c.encodeIfPresent(exp, forKey: .exp)
        try c.encodeIfPresent(iat, forKey: .iat)
        try c.encodeIfPresent(nbf, forKey: .nbf)
        try c.encodeIfPresent(jti, forKey: .jti)
        try c.encodeIfPresent(clientID, forKey: .clientID)
        try c.encodeIfPresent(iss, forKey: .iss)
        try c.encodeIfPresent(aud, forKey: .aud)
        try c.encodeIfPresent(amr, forKey: .amr)
        try c.encodeIfPresent(anon, forKey: .anon)
        try c.encodeIfPresent(tv, forKey: .tv)
        try c.encodeIfPresent(ent, forKey: .ent)
        try c.encodeIfPresent(cnf, forKey: .cnf)
        try AppClaimRules.encode(app, to: encoder)
    }
}

/// A coding key of any name: the members of an object whose names are not fixed (app claims).
public struct NamedKey: CodingKey, Sendable {
    /// The member name.
    public let stringValue: String
    /// Never an index.
    public var intValue: Int? { nil }
    /// A key of `name`.
    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}
