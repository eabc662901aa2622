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
    /// The key a DPoP-bound token is bound to (RFC 9449 §6: `cnf.jkt`); nil for a bearer token.
    public var cnf: Confirmation?
    /// The app's own claims (set by an operator or a sign-in hook; ``AppClaimRules``), beside
    /// Tegata's at the top level of the token; empty when there are none. Reading a token, every
    /// claim that is neither Tegata's nor a reserved name lands here.
    public var app: [String: JSONValue]

    /// Creates a claim set.
    public init(
        iss: String, sub: String, aud: String, exp: Int64, nbf: Int64, iat: Int64, jti: String, sid: String,
        clientID: String, amr: [String], anon: Bool, tv: Int64, ent: [String: EntitlementGrant]?,
        cnf: Confirmation? = nil, app: [String: JSONValue] = [:]
    ) {
        self.cnf = cnf
        self.app = app
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
        case iss, sub, aud, exp, nbf, iat, jti, sid, amr, anon, tv, ent, cnf
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
        cnf = try c.decodeIfPresent(Confirmation.self, forKey: .cnf)
        app = try AppClaimRules.decodeAppClaims(from: decoder, besides: CodingKeys.self)
    }

    /// Tegata's claims (`ent` omitted when nil), and the app's beside them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iss, forKey: .iss)
        try c.encode(sub, forKey: .sub)
        try c.encode(aud, forKey: .aud)
        try c.encode(exp, forKey: .exp)
        try c.encode(nbf, forKey: .nbf)
        try c.encode(iat, forKey: .iat)
        try c.encode(jti, forKey: .jti)
        try c.encode(sid, forKey: .sid)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(amr, forKey: .amr)
        try c.encode(anon, forKey: .anon)
        try c.encode(tv, forKey: .tv)
        try c.encodeIfPresent(ent, forKey: .ent)
        try c.encodeIfPresent(cnf, forKey: .cnf)
        try AppClaimRules.encode(app, to: encoder)
    }
}


extension AccessTokenClaims: JSONWritable {
    /// Writes the claims with keys sorted (app claims among Tegata's), `ent` omitted when nil.
    public func write(to writer: inout JSONWriter) {
        guard app.isEmpty else { return writer.value(.object(jsonObject)) }
        writer.beginObject()
        writer.key("amr"); writer.strings(amr)
        writer.key("anon"); writer.bool(anon)
        writer.key("aud"); writer.string(aud)
        writer.key("client_id"); writer.string(clientID)
        if let cnf {
            writer.key("cnf"); writer.beginObject(); writer.key("jkt"); writer.string(cnf.jkt); writer.endObject()
        }
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

extension AccessTokenClaims {
    /// Every claim as one JSON object (for a token with app claims, whose keys sort among Tegata's).
    var jsonObject: [String: JSONValue] {
        var object = app
        object["amr"] = .array(amr.map(JSONValue.string))
        object["anon"] = .bool(anon)
        object["aud"] = .string(aud)
        object["client_id"] = .string(clientID)
        if let cnf { object["cnf"] = .object(["jkt": .string(cnf.jkt)]) }
        if let ent {
            object["ent"] = .object(ent.mapValues { grant in
                switch grant {
                case .unlimited: .bool(true)
                case .until(let at): .object(["expires_at": .integer(at)])
                }
            })
        }
        object["exp"] = .integer(exp)
        object["iat"] = .integer(iat)
        object["iss"] = .string(iss)
        object["jti"] = .string(jti)
        object["nbf"] = .integer(nbf)
        object["sid"] = .string(sid)
        object["sub"] = .string(sub)
        object["tv"] = .integer(tv)
        return object
    }
}
