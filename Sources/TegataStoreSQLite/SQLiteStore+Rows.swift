import Foundation
import TegataCore
import TegataWire

/// Rows to values and back, shared by the store's parts.
extension SQLiteStore {
    static func userRecord(userID: String, on db: Database) throws -> UserRecord? {
        guard let row = try db.query("SELECT * FROM users WHERE id = ?", [.text(userID)]).first else { return nil }
        let user = try Self.user(from: row)
        let identities = try db.query(
            "SELECT provider, subject FROM identities WHERE user_id = ? ORDER BY provider, subject", [.text(userID)]
        ).map { IdentitySummary(provider: try $0.string("provider"), subject: try $0.string("subject")) }
        let entitlements = try db.query(
            "SELECT name, expires_at FROM entitlements WHERE user_id = ? ORDER BY name", [.text(userID)]
        ).map { Entitlement(name: try $0.string("name"), expiresAt: try $0.optionalDate("expires_at")) }
        return UserRecord(
            user: user, identities: identities, entitlements: entitlements,
            appClaims: try AppClaimRules.claims(storedText: try row.optionalString("app_claims")))
    }

    /// The user in a row of `users` (every column).
    static func user(from row: Row) throws -> User {
        User(
            id: try row.string("id"), anon: try row.bool("anon"), createdAt: try row.date("created_at"),
            tokenVersion: try row.int("token_version"),
            disabled: try row.optionalDate("disabled_at").map { Disablement(since: $0, until: try row.optionalDate("disabled_until")) })
    }

    /// Creates a user at token version 0.
    static func insertUser(id: String, anon: Bool, now: Date, on db: Database) throws -> User {
        try db.query(
            "INSERT INTO users (id, anon, created_at, token_version) VALUES (?, ?, ?, 0)",
            [.text(id), .bool(anon), .date(now)])
        return User(id: id, anon: anon, createdAt: now, tokenVersion: 0)
    }

    static func insert(_ identity: ExternalIdentity, userID: String, now: Date, on db: Database) throws {
        try db.query(
            "INSERT INTO identities (provider, subject, user_id, created_at, email) VALUES (?, ?, ?, ?, ?)",
            [.text(identity.provider), .text(identity.subject), .text(userID), .date(now), .optionalText(identity.email)])
    }

    static func insert(_ session: Session, on db: Database) throws {
        try db.query(
            """
            INSERT INTO sessions (id, user_id, device_id, platform, amr, client_id, created_at, last_refreshed_at,
                                  rotated_at, generation, absolute_expires_at, revoked_at, dpop_jkt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(session.id), .text(session.userID), .optionalText(session.deviceID), .text(session.platform),
             .text(try encodeAMR(session.amr)), .text(session.clientID), .date(session.createdAt),
             .date(session.lastRefreshedAt), .date(session.rotatedAt), .integer(session.generation), .date(session.absoluteExpiresAt),
             .optionalDate(session.revokedAt), .optionalText(session.dpopThumbprint)])
    }

    static func session(from row: Row) throws -> Session {
        Session(
            id: try row.string("id"), userID: try row.string("user_id"), deviceID: try row.optionalString("device_id"),
            platform: try row.string("platform"), amr: try decodeAMR(try row.string("amr")),
            clientID: try row.string("client_id"), createdAt: try row.date("created_at"),
            lastRefreshedAt: try row.date("last_refreshed_at"), rotatedAt: try row.optionalDate("rotated_at"),
            generation: try row.int("generation"),
            absoluteExpiresAt: try row.date("absolute_expires_at"), revokedAt: try row.optionalDate("revoked_at"),
            hookClaims: try AppClaimRules.claims(storedText: try row.optionalString("hook_claims")),
            dpopThumbprint: try row.optionalString("dpop_jkt"))
    }

    /// `amr` is stored as a JSON array of strings. Its values are short registered names (RFC 8176)
    /// that need no escaping, so the common case is written and read without a JSON coder (this is
    /// on every sign-in and refresh); anything else goes through the coder.
    static func encodeAMR(_ amr: [String]) throws -> String {
        if amr.allSatisfy(isPlainAMRValue) {
            return "[" + amr.map { "\"" + $0 + "\"" }.joined(separator: ",") + "]"
        }
        return String(decoding: try JSONEncoder().encode(amr), as: UTF8.self)
    }

    static func decodeAMR(_ text: String) throws -> [String] {
        if text.hasPrefix("[\""), text.hasSuffix("\"]") {
            let values = text.dropFirst(2).dropLast(2).split(separator: "\",\"", omittingEmptySubsequences: false).map(String.init)
            if values.allSatisfy(isPlainAMRValue) { return values }
        } else if text == "[]" {
            return []
        }
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    private static func isPlainAMRValue(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                true
            default:
                false
            }
        }
    }
}
