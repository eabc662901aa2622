import TegataWire

/// The claims of a Tegata access token (RFC 9068). Times are whole Unix seconds.
public struct AccessTokenClaims: Codable, Sendable, Equatable {
    /// Issuer.
    public var iss: String
    /// The user id.
    public var sub: String
    /// Audience (one value; RFC 9068 allows a string).
    public var aud: String
    /// Expiry, Unix seconds.
    public var exp: Int64
    /// Not before, Unix seconds.
    public var nbf: Int64
    /// Issued at, Unix seconds.
    public var iat: Int64
    /// Unique token id.
    public var jti: String
    /// The session id.
    public var sid: String
    /// The client the token was issued to.
    public var clientID: String
    /// Authentication methods (RFC 8176 style): `["device"]`, `["apple"]`, …
    public var amr: [String]
    /// True for an anonymous device-only user.
    public var anon: Bool
    /// The user's token version when the token was issued.
    public var tv: Int64
    /// Entitlements that had not expired when the token was issued; omitted when there are none.
    public var ent: [String: EntitlementGrant]?

    /// Creates a claim set.
    public init(
        iss: String, sub: String, aud: String, exp: Int64, nbf: Int64, iat: Int64, jti: String, sid: String,
        clientID: String, amr: [String], anon: Bool, tv: Int64, ent: [String: EntitlementGrant]?
    ) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        self.jti = jti
        self.sid = sid
        self.clientID = clientID
        self.amr = amr
        self.anon = anon
        self.tv = tv
        self.ent = ent
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, nbf, iat, jti, sid, amr, anon, tv, ent
        case clientID = "client_id"
    }

    /// Decodes the claims; `aud` may be a string or an array with exactly one element.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try c.decode(String.self, forKey: .iss)
        sub = try c.decode(String.self, forKey: .sub)
        if let single = try? c.decode(String.self, forKey: .aud) {
            aud = single
        } else {
            let many = try c.decode([String].self, forKey: .aud)
            guard many.count == 1 else {
                throw DecodingError.dataCorruptedError(forKey: .aud, in: c, debugDescription: "one audience expected")
            }
            aud = many[0]
        }
        exp = try c.decode(Int64.self, forKey: .exp)
        nbf = try c.decode(Int64.self, forKey: .nbf)
        iat = try c.decode(Int64.self, forKey: .iat)
        jti = try c.decode(String.self, forKey: .jti)
        sid = try c.decode(String.self, forKey: .sid)
        clientID = try c.decode(String.self, forKey: .clientID)
        amr = try c.decode([String].self, forKey: .amr)
        anon = try c.decode(Bool.self, forKey: .anon)
        tv = try c.decode(Int64.self, forKey: .tv)
        ent = try c.decodeIfPresent([String: EntitlementGrant].self, forKey: .ent)
    }
}

extension AccessTokenClaims: JSONWritable {
    /// Writes the claims with keys sorted, `ent` omitted when nil.
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("amr"); writer.strings(amr)
        writer.key("anon"); writer.bool(anon)
        writer.key("aud"); writer.string(aud)
        writer.key("client_id"); writer.string(clientID)
        if let ent {
            writer.key("ent"); writer.entitlements(ent)
        }
        writer.key("exp"); writer.integer(exp)
        writer.key("iat"); writer.integer(iat)
        writer.key("iss"); writer.string(iss)
        writer.key("jti"); writer.string(jti)
        writer.key("nbf"); writer.integer(nbf)
        writer.key("sid"); writer.string(sid)
        writer.key("sub"); writer.string(sub)
        writer.key("tv"); writer.integer(tv)
        writer.endObject()
    }
}
