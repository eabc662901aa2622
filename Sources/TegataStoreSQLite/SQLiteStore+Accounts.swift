import Foundation
import TegataCore
import TegataWire

/// Users, devices and identities. Every write is one job on the single writer thread, which is what
/// gives each method the isolation its protocol documentation asks for.
extension SQLiteStore {
    public func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome {
        try await writer.write { db in
            let credentials = command.credentials
            let stored = try db.query(
                "SELECT user_id, secret_hash, revoked_at FROM devices WHERE id = ?", [.text(credentials.deviceID)]
            ).first.map {
                StoredDevice(userID: try $0.string("user_id"), secretHash: try $0.blob("secret_hash"), revokedAt: try $0.optionalDate("revoked_at"))
            }
            let record: UserRecord
            switch DeviceSignInDecision.decide(stored: stored, command: command) {
            case .wrongSecret:
                return .wrongSecret
            case .deviceRevoked:
                return .deviceRevoked
            case .claimRefused(let reason, let userID):
                return .claimRefused(reason, userID: userID)
            case .claim(let userID):
                guard let found = try Self.userRecord(userID: userID, on: db) else {
                    throw StorageError(description: "a device refers to a missing user")
                }
                if let disabled = found.user.disabled(at: command.now) { return .userDisabled(userID: userID, disabled) }
                // One writer: nothing can change the row between the read above and this.
                try db.query(
                    "UPDATE devices SET secret_hash = ?, last_sign_in_at = ?, platform = ? WHERE id = ?",
                    [.blob(command.secretHash), .date(command.now), .text(credentials.platform), .text(credentials.deviceID)])
                let session = command.session(for: userID)
                try Self.insert(session, on: db)
                return .claimed(found, session)
            case .signIn(let userID):
                guard let found = try Self.userRecord(userID: userID, on: db) else {
                    throw StorageError(description: "a device refers to a missing user")
                }
                if let disabled = found.user.disabled(at: command.now) { return .userDisabled(userID: userID, disabled) }
                try db.query(
                    "UPDATE devices SET last_sign_in_at = ?, platform = ? WHERE id = ?",
                    [.date(command.now), .text(credentials.platform), .text(credentials.deviceID)])
                let session = command.session(for: userID)
                try Self.insert(session, on: db)
                return .signedIn(found, session)
            case .register(let userID):
                if let limit = command.registrationLimit {
                    let tat = try db.query("SELECT tat FROM rate_limits WHERE bucket = ?", [.text(limit.bucket)]).first
                        .map { try $0.double("tat") }
                    switch limit.policy.take(tat: tat, now: command.now) {
                    case .limited(let seconds):
                        return .registrationLimited(RateLimitRejection(policy: limit.policy, retryAfterSeconds: seconds))
                    case .allowed(let next, _):
                        try db.query(
                            "INSERT INTO rate_limits (bucket, tat) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE SET tat = excluded.tat",
                            [.text(limit.bucket), .real(next)])
                    }
                }
                let user = try Self.insertUser(id: userID, anon: true, now: command.now, on: db)
                try db.query(
                    """
                    INSERT INTO devices (id, user_id, secret_hash, platform, created_at, last_sign_in_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    [.text(credentials.deviceID), .text(user.id), .blob(command.secretHash),
                     .text(credentials.platform), .date(command.now), .date(command.now)])
                record = UserRecord(user: user, identities: [], entitlements: [])
                let session = command.session(for: userID)
                try Self.insert(session, on: db)
                return .registered(record, session)
            }
        }
    }

    public func identitySignIn(_ command: IdentitySignInCommand) async throws -> IdentitySignInOutcome {
        try await writer.write { db in
            let identity = command.identity
            let owner = try Self.owner(of: identity, on: db)
            switch IdentitySignInDecision.decide(owner: owner, command: command) {
            case .signIn(let userID, let email):
                guard let record = try Self.userRecord(userID: userID, on: db) else {
                    throw StorageError(description: "an identity refers to a missing user")
                }
                if record.user.disabled(at: command.now) != nil {
                    return IdentitySignInOutcome(record: record, session: nil, created: false)
                }
                if let email {
                    try db.query(
                        "UPDATE identities SET email = ? WHERE provider = ? AND subject = ?",
                        [.text(email), .text(identity.provider), .text(identity.subject)])
                }
                let session = command.session(for: userID)
                try Self.insert(session, on: db)
                return IdentitySignInOutcome(record: record, session: session, created: false)
            case .create(let userID):
                let user = try Self.insertUser(id: userID, anon: false, now: command.now, on: db)
                try Self.insert(identity, userID: user.id, now: command.now, on: db)
                let record = UserRecord(
                    user: user, identities: [IdentitySummary(provider: identity.provider, subject: identity.subject)],
                    entitlements: [])
                let session = command.session(for: userID)
                try Self.insert(session, on: db)
                return IdentitySignInOutcome(record: record, session: session, created: true)
            }
        }
    }

    public func linkIdentity(_ identity: ExternalIdentity, toUser userID: String, now: Date) async throws -> LinkIdentityOutcome {
        try await writer.write { db in
            let record = try Self.userRecord(userID: userID, on: db)
            let decision = LinkDecision.decide(
                provider: identity.provider, owner: try Self.owner(of: identity, on: db), userID: userID,
                userExists: record != nil, userProviders: record?.identities.map(\.provider) ?? [])
            switch decision {
            case .ownedByAnotherUser: return .ownedByAnotherUser
            case .providerAlreadyLinked: return .providerAlreadyLinked
            case .noSuchUser: return .noSuchUser
            case .alreadyLinked:
                guard let record else { return .noSuchUser }
                return .alreadyLinked(record)
            case .link:
                try db.query("UPDATE users SET anon = 0 WHERE id = ?", [.text(userID)])
                try Self.insert(identity, userID: userID, now: now, on: db)
                guard let linked = try Self.userRecord(userID: userID, on: db) else { return .noSuchUser }
                return .linked(linked)
            }
        }
    }

    public func unlinkIdentity(provider: String, fromUser userID: String) async throws -> UnlinkIdentityOutcome {
        try await writer.write { db in
            guard let record = try Self.userRecord(userID: userID, on: db) else { return .notLinked }
            let usableDevices = try db.query(
                "SELECT COUNT(*) AS n FROM devices WHERE user_id = ? AND revoked_at IS NULL", [.text(userID)]
            ).first?.int("n") ?? 0
            switch UnlinkDecision.decide(provider: provider, userProviders: record.identities.map(\.provider), usableDevices: Int(usableDevices)) {
            case .notLinked:
                return .notLinked
            case .lastWayToSignIn:
                return .lastWayToSignIn
            case .unlink(let becomesAnonymous):
                try db.query("DELETE FROM identities WHERE user_id = ? AND provider = ?", [.text(userID), .text(provider)])
                if becomesAnonymous {
                    try db.query("UPDATE users SET anon = 1 WHERE id = ?", [.text(userID)])
                }
                guard let unlinked = try Self.userRecord(userID: userID, on: db) else { return .notLinked }
                return .unlinked(unlinked)
            }
        }
    }

    public func rememberSingleUse(key: String, until: Date, now: Date) async throws -> Bool {
        try await writer.write { db in try Self.recordSingleUse(key: key, until: until, now: now, on: db) }
    }

    /// Records a single-use key in the caller's transaction; false if it is recorded and not expired.
    static func recordSingleUse(key: String, until: Date, now: Date, on db: Database) throws -> Bool {
        // A record that expired but was not pruned yet is taken over: its credential cannot verify any more.
        try !db.query(
            """
            INSERT INTO used_id_tokens (key, until) VALUES (?, ?)
            ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE used_id_tokens.until <= ?
            RETURNING key
            """,
            [.text(key), .date(until), .date(now)]).isEmpty
    }

    public func deleteUser(id: String, now: Date, eventUntil: Date) async throws -> Bool {
        try await writer.write { db in
            let rows = try db.query("DELETE FROM users WHERE id = ? RETURNING token_version", [.text(id)])
            guard let version = try rows.first?.int("token_version") else { return false }
            // Devices, identities, sessions and entitlements go with the user (ON DELETE CASCADE); its
            // payment links go too, so the provider's customer no longer points at anyone.
            try db.query("DELETE FROM billing_customers WHERE user_id = ?", [.text(id)])
            // Its imported entitlements are its own subscription's grants: they go too.
            let imported: [SQLValue] = [.text(UserImport.billingSource), .text(id)]
            try db.query("DELETE FROM billing_grants WHERE source = ? AND subscription = ?", imported)
            try db.query("DELETE FROM billing_subscriptions WHERE source = ? AND subscription = ?", imported)
            try Self.insert(UserDeletionPlan.event(userID: id, tokenVersion: version, until: eventUntil), now: now, on: db)
            return true
        }
    }

    public func userRecord(userID: String) async throws -> UserRecord? {
        try await readers.read { db in try db.snapshot { try Self.userRecord(userID: userID, on: db) } }
    }

    public func identities(ofUser userID: String) async throws -> [StoredIdentity] {
        try await readers.read { db in
            try db.query(
                "SELECT provider, subject, email, created_at FROM identities WHERE user_id = ? ORDER BY provider, subject", [.text(userID)]
            ).map {
                StoredIdentity(
                    provider: try $0.string("provider"), subject: try $0.string("subject"), email: try $0.optionalString("email"),
                    linkedAt: try $0.date("created_at"))
            }
        }
    }

    public func countUsers() async throws -> Int {
        try await readers.read { db in Int(try db.query("SELECT COUNT(*) AS n FROM users").first?.int("n") ?? 0) }
    }

    public func deviceOwner(deviceID: String) async throws -> String? {
        try await readers.read { db in
            try db.query("SELECT user_id FROM devices WHERE id = ? AND revoked_at IS NULL", [.text(deviceID)])
                .first.map { try $0.string("user_id") }
        }
    }

    private static func owner(of identity: ExternalIdentity, on db: Database) throws -> String? {
        try db.query(
            "SELECT user_id FROM identities WHERE provider = ? AND subject = ?", [.text(identity.provider), .text(identity.subject)]
        ).first.map { try $0.string("user_id") }
    }
}
