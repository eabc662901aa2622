import Foundation
import PostgresNIO
import TegataCore
import TegataWire

/// Users, devices and identities. Each method locks what its protocol documentation names; a
/// first insert that loses a race to another replica hits a unique constraint, and the whole
/// transaction runs again and finds the winner's row.
extension PostgresStore {
    public func deviceSignIn(_ command: DeviceSignInCommand) async throws -> DeviceSignInOutcome {
        try await transaction { connection in
            let logger = self.logger
            let credentials = command.credentials
            let stored = try await Self.rows(
                "SELECT user_id, secret_hash, revoked_at FROM devices WHERE id = \(credentials.deviceID) FOR UPDATE",
                on: connection, logger: logger
            ).first.map {
                StoredDevice(
                    userID: try $0["user_id"].decode(String.self), secretHash: try $0["secret_hash"].decode(Data.self),
                    revokedAt: try $0["revoked_at"].decode(Int64?.self).map(Date.init(ms:)))
            }
            switch DeviceSignInDecision.decide(stored: stored, command: command) {
            case .wrongSecret:
                return .wrongSecret
            case .deviceRevoked:
                return .deviceRevoked
            case .claimRefused(let reason, let userID):
                return .claimRefused(reason, userID: userID)
            case .claim(let userID):
                guard let record = try await Self.userRecord(userID: userID, on: connection, logger: logger) else {
                    throw PostgresStoreError(description: "a device refers to a missing user")
                }
                if let disabled = record.user.disabled(at: command.now) { return .userDisabled(userID: userID, disabled) }
                // The row is locked (FOR UPDATE above): a concurrent claim waits, then finds the secret.
                try await connection.run(
                    """
                    UPDATE devices SET secret_hash = \(command.secretHash), last_sign_in_at = \(command.now.ms),
                    platform = \(credentials.platform) WHERE id = \(credentials.deviceID)
                    """, logger: logger)
                let session = command.session(for: userID)
                try await Self.insert(session, on: connection, logger: logger)
                return .claimed(record, session)
            case .signIn(let userID):
                guard let record = try await Self.userRecord(userID: userID, on: connection, logger: logger) else {
                    throw PostgresStoreError(description: "a device refers to a missing user")
                }
                if let disabled = record.user.disabled(at: command.now) { return .userDisabled(userID: userID, disabled) }
                try await connection.run(
                    "UPDATE devices SET last_sign_in_at = \(command.now.ms), platform = \(credentials.platform) WHERE id = \(credentials.deviceID)",
                    logger: logger)
                let session = command.session(for: userID)
                try await Self.insert(session, on: connection, logger: logger)
                return .signedIn(record, session)
            case .register(let userID):
                if let limit = command.registrationLimit {
                    // The row is made if missing, then locked: replicas registering from one
                    // address at once take turns, and each sees the other's count.
                    try await connection.run(
                        "INSERT INTO rate_limits (bucket, tat) VALUES (\(limit.bucket), 0) ON CONFLICT (bucket) DO NOTHING",
                        logger: logger)
                    let tat = try await Self.rows(
                        "SELECT tat FROM rate_limits WHERE bucket = \(limit.bucket) FOR UPDATE", on: connection, logger: logger
                    ).first.map { try $0["tat"].decode(Double.self) }
                    switch limit.policy.take(tat: tat, now: command.now) {
                    case .limited(let seconds):
                        return .registrationLimited(RateLimitRejection(policy: limit.policy, retryAfterSeconds: seconds))
                    case .allowed(let next, _):
                        try await connection.run(
                            "UPDATE rate_limits SET tat = \(next) WHERE bucket = \(limit.bucket)", logger: logger)
                    }
                }
                let user = try await Self.insertUser(id: userID, anon: true, now: command.now, on: connection, logger: logger)
                try await connection.run(
                    """
                    INSERT INTO devices (id, user_id, secret_hash, platform, created_at, last_sign_in_at)
                    VALUES (\(credentials.deviceID), \(userID), \(command.secretHash), \(credentials.platform), \(command.now.ms), \(command.now.ms))
                    """, logger: logger)
                let session = command.session(for: userID)
                try await Self.insert(session, on: connection, logger: logger)
                return .registered(UserRecord(user: user, identities: [], entitlements: []), session)
            }
        }
    }

    public func identitySignIn(_ command: IdentitySignInCommand) async throws -> IdentitySignInOutcome {
        try await transaction { connection in
            let logger = self.logger
            let identity = command.identity
            let owner = try await Self.rows(
                "SELECT user_id FROM identities WHERE provider = \(identity.provider) AND subject = \(identity.subject) FOR UPDATE",
                on: connection, logger: logger
            ).first.map { try $0["user_id"].decode(String.self) }
            switch IdentitySignInDecision.decide(owner: owner, command: command) {
            case .signIn(let userID, let email):
                guard let record = try await Self.userRecord(userID: userID, on: connection, logger: logger) else {
                    throw PostgresStoreError(description: "an identity refers to a missing user")
                }
                if record.user.disabled(at: command.now) != nil {
                    return IdentitySignInOutcome(record: record, session: nil, created: false)
                }
                if let email {
                    try await connection.run(
                        "UPDATE identities SET email = \(email) WHERE provider = \(identity.provider) AND subject = \(identity.subject)",
                        logger: logger)
                }
                let session = command.session(for: userID)
                try await Self.insert(session, on: connection, logger: logger)
                return IdentitySignInOutcome(record: record, session: session, created: false)
            case .create(let userID):
                let user = try await Self.insertUser(id: userID, anon: false, now: command.now, on: connection, logger: logger)
                try await Self.insert(identity, userID: userID, now: command.now, on: connection, logger: logger)
                let session = command.session(for: userID)
                try await Self.insert(session, on: connection, logger: logger)
                let record = UserRecord(
                    user: user, identities: [IdentitySummary(provider: identity.provider, subject: identity.subject)], entitlements: [])
                return IdentitySignInOutcome(record: record, session: session, created: true)
            }
        }
    }

    public func linkIdentity(_ identity: ExternalIdentity, toUser userID: String, now: Date) async throws -> LinkIdentityOutcome {
        try await transaction { connection in
            let logger = self.logger
            let exists = try await !Self.rows("SELECT 1 FROM users WHERE id = \(userID) FOR UPDATE", on: connection, logger: logger).isEmpty
            let owner = try await Self.rows(
                "SELECT user_id FROM identities WHERE provider = \(identity.provider) AND subject = \(identity.subject)",
                on: connection, logger: logger
            ).first.map { try $0["user_id"].decode(String.self) }
            let record = exists ? try await Self.userRecord(userID: userID, on: connection, logger: logger) : nil
            switch LinkDecision.decide(
                provider: identity.provider, owner: owner, userID: userID, userExists: record != nil,
                userProviders: record?.identities.map(\.provider) ?? [])
            {
            case .ownedByAnotherUser: return .ownedByAnotherUser
            case .providerAlreadyLinked: return .providerAlreadyLinked
            case .noSuchUser: return .noSuchUser
            case .alreadyLinked:
                guard let record else { return .noSuchUser }
                return .alreadyLinked(record)
            case .link:
                try await connection.run("UPDATE users SET anon = false WHERE id = \(userID)", logger: logger)
                try await Self.insert(identity, userID: userID, now: now, on: connection, logger: logger)
                guard let linked = try await Self.userRecord(userID: userID, on: connection, logger: logger) else { return .noSuchUser }
                return .linked(linked)
            }
        }
    }

    public func unlinkIdentity(provider: String, fromUser userID: String) async throws -> UnlinkIdentityOutcome {
        try await transaction { connection in
            let logger = self.logger
            guard try await !Self.rows("SELECT 1 FROM users WHERE id = \(userID) FOR UPDATE", on: connection, logger: logger).isEmpty,
                  let record = try await Self.userRecord(userID: userID, on: connection, logger: logger)
            else { return .notLinked }
            let usable = try await Self.rows(
                "SELECT COUNT(*) AS n FROM devices WHERE user_id = \(userID) AND revoked_at IS NULL", on: connection, logger: logger
            ).first.map { try $0["n"].decode(Int64.self) } ?? 0
            switch UnlinkDecision.decide(provider: provider, userProviders: record.identities.map(\.provider), usableDevices: Int(usable)) {
            case .notLinked:
                return .notLinked
            case .lastWayToSignIn:
                return .lastWayToSignIn
            case .unlink(let becomesAnonymous):
                try await connection.run("DELETE FROM identities WHERE user_id = \(userID) AND provider = \(provider)", logger: logger)
                if becomesAnonymous {
                    try await connection.run("UPDATE users SET anon = true WHERE id = \(userID)", logger: logger)
                }
                guard let unlinked = try await Self.userRecord(userID: userID, on: connection, logger: logger) else { return .notLinked }
                return .unlinked(unlinked)
            }
        }
    }

    public func rememberSingleUse(key: String, until: Date, now: Date) async throws -> Bool {
        try await transaction { connection in
            try await Self.recordSingleUse(key: key, until: until, now: now, on: connection, logger: self.logger)
        }
    }

    /// Records a single-use key in the caller's transaction; false if it is recorded and not expired.
    static func recordSingleUse(key: String, until: Date, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        // A record that expired but was not pruned yet is taken over: its credential cannot verify any more.
        try await !rows(
            """
            INSERT INTO used_id_tokens (key, until) VALUES (\(key), \(until.ms))
            ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until WHERE used_id_tokens.until <= \(now.ms)
            RETURNING key
            """, on: connection, logger: logger).isEmpty
    }

    public func deleteUser(id: String, now: Date, eventUntil: Date) async throws -> Bool {
        try await transaction { connection in
            let logger = self.logger
            guard let version = try await Self.rows(
                "DELETE FROM users WHERE id = \(id) RETURNING token_version", on: connection, logger: logger
            ).first.map({ try $0["token_version"].decode(Int64.self) }) else { return false }
            // Devices, identities, sessions and entitlements go with the user (ON DELETE CASCADE); its
            // payment links go too, so the provider's customer no longer points at anyone.
            try await connection.run("DELETE FROM billing_customers WHERE user_id = \(id)", logger: logger)
            // Its imported entitlements are its own subscription's grants: they go too.
            let imported = UserImport.billingSource
            try await connection.run("DELETE FROM billing_grants WHERE source = \(imported) AND subscription = \(id)", logger: logger)
            try await connection.run("DELETE FROM billing_subscriptions WHERE source = \(imported) AND subscription = \(id)", logger: logger)
            try await Self.insert([UserDeletionPlan.event(userID: id, tokenVersion: version, until: eventUntil)], now: now, on: connection, logger: logger)
            return true
        }
    }

    public func userRecord(userID: String) async throws -> UserRecord? {
        try await read { connection in try await Self.userRecord(userID: userID, on: connection, logger: self.logger) }
    }

    public func identities(ofUser userID: String) async throws -> [StoredIdentity] {
        try await read { connection in
            try await Self.rows(
                "SELECT provider, subject, email, created_at FROM identities WHERE user_id = \(userID) ORDER BY provider, subject",
                on: connection, logger: self.logger
            ).map {
                StoredIdentity(
                    provider: try $0["provider"].decode(String.self), subject: try $0["subject"].decode(String.self),
                    email: try $0["email"].decode(String?.self), linkedAt: Date(ms: try $0["created_at"].decode(Int64.self)))
            }
        }
    }

    public func countUsers() async throws -> Int {
        try await read { connection in
            Int(try await Self.rows("SELECT COUNT(*) AS n FROM users", on: connection, logger: self.logger).first?["n"].decode(Int64.self) ?? 0)
        }
    }

    public func deviceOwner(deviceID: String) async throws -> String? {
        try await read { connection in
            try await Self.rows(
                "SELECT user_id FROM devices WHERE id = \(deviceID) AND revoked_at IS NULL", on: connection, logger: self.logger
            ).first.map { try $0["user_id"].decode(String.self) }
        }
    }
}
