/// The numbered, forward-only schema migrations. Append only: never edit or reorder a released one.
/// Each is a list of single statements (SQLite prepares one statement at a time).
struct Migration: Sendable {
    /// Its number; migrations run in ascending order, each once.
    let version: Int
    /// A short name, recorded with the version.
    let name: String
    /// The statements, run in one transaction.
    let statements: [String]

    static let all: [Migration] = [
        Migration(version: 1, name: "users, devices, sessions, identities, entitlements, signing keys", statements: [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                anon INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                token_version INTEGER NOT NULL DEFAULT 0
            ) STRICT
            """,
            """
            CREATE TABLE devices (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                secret_hash BLOB NOT NULL,
                platform TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_sign_in_at INTEGER NOT NULL
            ) STRICT
            """,
            "CREATE INDEX devices_user_id ON devices(user_id)",
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                device_id TEXT,
                platform TEXT NOT NULL,
                amr TEXT NOT NULL,
                client_id TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_refreshed_at INTEGER NOT NULL,
                generation INTEGER NOT NULL,
                absolute_expires_at INTEGER NOT NULL,
                revoked_at INTEGER
            ) STRICT
            """,
            "CREATE INDEX sessions_user_id ON sessions(user_id)",
            """
            CREATE TABLE identities (
                provider TEXT NOT NULL,
                subject TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (provider, subject)
            ) STRICT
            """,
            "CREATE INDEX identities_user_id ON identities(user_id)",
            """
            CREATE TABLE entitlements (
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                expires_at INTEGER,
                PRIMARY KEY (user_id, name)
            ) STRICT
            """,
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY,
                alg TEXT NOT NULL,
                sealed_private_key BLOB NOT NULL,
                created_at INTEGER NOT NULL
            ) STRICT
            """,
        ]),
        Migration(version: 2, name: "revocation feed, session revocation reason, pruning indexes", statements: [
            "ALTER TABLE sessions ADD COLUMN revoke_reason TEXT",
            """
            CREATE TABLE revocation_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                type TEXT NOT NULL,
                subject TEXT NOT NULL,
                token_version INTEGER,
                until INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            ) STRICT
            """,
            "CREATE INDEX revocation_events_subject ON revocation_events(type, subject)",
            "CREATE INDEX revocation_events_until ON revocation_events(until)",
            "CREATE INDEX sessions_absolute_expires_at ON sessions(absolute_expires_at)",
            "CREATE INDEX sessions_last_refreshed_at ON sessions(last_refreshed_at)",
        ]),
        Migration(version: 3, name: "identity e-mail (opt-in), one identity per provider per user", statements: [
            "ALTER TABLE identities ADD COLUMN email TEXT",
            "CREATE UNIQUE INDEX identities_user_provider ON identities(user_id, provider)",
        ]),
        // Payment state from webhooks. The `entitlements` table (version 1) stays what tokens read: it
        // is recomputed for a user from these tables whenever an event changes that user's state.
        Migration(version: 4, name: "billing: webhook events, customers, subscriptions, grants, transfers", statements: [
            """
            CREATE TABLE billing_events (
                source TEXT NOT NULL,
                event_id TEXT NOT NULL,
                type TEXT NOT NULL,
                occurred_at INTEGER NOT NULL,
                received_at INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                PRIMARY KEY (source, event_id)
            ) STRICT
            """,
            "CREATE INDEX billing_events_received_at ON billing_events(received_at)",
            """
            CREATE TABLE billing_customers (
                source TEXT NOT NULL,
                customer TEXT NOT NULL,
                user_id TEXT,
                linked_at INTEGER NOT NULL,
                PRIMARY KEY (source, customer)
            ) STRICT
            """,
            "CREATE INDEX billing_customers_user_id ON billing_customers(user_id)",
            """
            CREATE TABLE billing_subscriptions (
                source TEXT NOT NULL,
                subscription TEXT NOT NULL,
                customer TEXT NOT NULL,
                last_event_at INTEGER NOT NULL,
                final INTEGER NOT NULL,
                PRIMARY KEY (source, subscription)
            ) STRICT
            """,
            "CREATE INDEX billing_subscriptions_customer ON billing_subscriptions(source, customer)",
            """
            CREATE TABLE billing_grants (
                source TEXT NOT NULL,
                subscription TEXT NOT NULL,
                name TEXT NOT NULL,
                expires_at INTEGER,
                PRIMARY KEY (source, subscription, name),
                FOREIGN KEY (source, subscription) REFERENCES billing_subscriptions(source, subscription) ON DELETE CASCADE
            ) STRICT
            """,
            """
            CREATE TABLE billing_transfers (
                source TEXT NOT NULL,
                customer TEXT NOT NULL,
                to_customer TEXT NOT NULL,
                transferred_at INTEGER NOT NULL,
                PRIMARY KEY (source, customer)
            ) STRICT
            """,
        ]),
        Migration(version: 5, name: "signing keys: activation time, for rotation", statements: [
            "ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER",
            "UPDATE signing_keys SET activates_at = created_at",
        ]),
        Migration(version: 6, name: "sessions: rotation time apart from last use; devices: revocation; used ID tokens", statements: [
            // Until now one column meant both; from here on a cookie renewal moves only last_refreshed_at.
            "ALTER TABLE sessions ADD COLUMN rotated_at INTEGER",
            "UPDATE sessions SET rotated_at = last_refreshed_at",
            "ALTER TABLE devices ADD COLUMN revoked_at INTEGER",
            // Exchanged external ID tokens, by a digest, until they expire: a second exchange is a replay.
            "CREATE TABLE used_id_tokens (key TEXT PRIMARY KEY, until INTEGER NOT NULL) STRICT",
            "CREATE INDEX used_id_tokens_until ON used_id_tokens(until)",
        ]),
        Migration(version: 7, name: "shared rate-limit counters", statements: [
            // One row per limited key: the time (ms since 1970, fractional) at which its allowance
            // is whole again (GCRA); a row past that time means the same as no row.
            "CREATE TABLE rate_limits (bucket TEXT PRIMARY KEY, tat REAL NOT NULL) STRICT",
            "CREATE INDEX rate_limits_tat ON rate_limits(tat)",
        ]),
        Migration(version: 8, name: "audit events", statements: [
            // The audit trail, when the operator keeps it in the database (TEGATA_AUDIT_TABLE).
            // details: a JSON object of strings. Read newest first, all or one user's.
            """
            CREATE TABLE audit_events (
                id TEXT PRIMARY KEY,
                time INTEGER NOT NULL,
                type TEXT NOT NULL,
                outcome TEXT NOT NULL,
                user_id TEXT,
                session_id TEXT,
                client_address TEXT,
                request_id TEXT,
                details TEXT NOT NULL
            ) STRICT
            """,
            "CREATE INDEX audit_events_time ON audit_events(time, id)",
            "CREATE INDEX audit_events_user ON audit_events(user_id, time, id)",
        ]),
        Migration(version: 9, name: "users: disabled by an operator", statements: [
            // disabled_at set: disabled, until disabled_until (NULL: until enabled again).
            "ALTER TABLE users ADD COLUMN disabled_at INTEGER",
            "ALTER TABLE users ADD COLUMN disabled_until INTEGER",
        ]),
        Migration(version: 10, name: "users: app claims", statements: [
            // A JSON object, compact with keys sorted (AppClaimRules); NULL: none.
            "ALTER TABLE users ADD COLUMN app_claims TEXT",
        ]),
        Migration(version: 11, name: "sessions: the sign-in claims hook's claims", statements: [
            // A JSON object, compact with keys sorted (AppClaimRules); NULL: none.
            "ALTER TABLE sessions ADD COLUMN hook_claims TEXT",
        ]),
        Migration(version: 12, name: "sessions: an index of the revoked ones, for pruning", statements: [
            // Partial: only revoked sessions are in it, and a session enters it once, when revoked.
            "CREATE INDEX sessions_revoked_at ON sessions(revoked_at) WHERE revoked_at IS NOT NULL",
        ]),
        Migration(version: 13, name: "sessions: the DPoP key a session is bound to", statements: [
            // The RFC 7638 thumbprint (base64url); NULL: a bearer session.
            "ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT",
        ]),
    ]
}
