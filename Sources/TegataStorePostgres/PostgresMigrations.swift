/// The PostgreSQL store's numbered, forward-only migrations. Append only: never edit or reorder a
/// released one. Times are milliseconds since 1970 in `BIGINT` columns, as in the SQLite store, so
/// both stores keep the same values.
struct PostgresMigration: Sendable {
    /// Its number; migrations run in ascending order, each once.
    let version: Int
    /// A short name, recorded with the version.
    let name: String
    /// The statements, run in one transaction (PostgreSQL's DDL is transactional).
    let statements: [String]

    static let all: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "users, devices, identities, sessions, entitlements, signing keys, the feed, billing", statements: [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                anon BOOLEAN NOT NULL,
                created_at BIGINT NOT NULL,
                token_version BIGINT NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE devices (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                secret_hash BYTEA NOT NULL,
                platform TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_sign_in_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX devices_user_id ON devices(user_id)",
            """
            CREATE TABLE identities (
                provider TEXT NOT NULL,
                subject TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                email TEXT,
                PRIMARY KEY (provider, subject)
            )
            """,
            "CREATE UNIQUE INDEX identities_user_provider ON identities(user_id, provider)",
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                device_id TEXT,
                platform TEXT NOT NULL,
                amr TEXT[] NOT NULL,
                client_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_refreshed_at BIGINT NOT NULL,
                rotated_at BIGINT NOT NULL,
                generation BIGINT NOT NULL,
                absolute_expires_at BIGINT NOT NULL,
                revoked_at BIGINT,
                revoke_reason TEXT,
                position BIGSERIAL NOT NULL
            )
            """,
            "CREATE INDEX sessions_user_id ON sessions(user_id, created_at, position)",
            "CREATE INDEX sessions_absolute_expires_at ON sessions(absolute_expires_at)",
            "CREATE INDEX sessions_last_refreshed_at ON sessions(last_refreshed_at)",
            "CREATE INDEX sessions_revoked_at ON sessions(revoked_at) WHERE revoked_at IS NOT NULL",
            """
            CREATE TABLE entitlements (
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                expires_at BIGINT,
                PRIMARY KEY (user_id, name)
            )
            """,
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY,
                alg TEXT NOT NULL,
                sealed_private_key BYTEA NOT NULL,
                created_at BIGINT NOT NULL,
                activates_at BIGINT NOT NULL,
                position BIGSERIAL NOT NULL
            )
            """,
            // The feed. `seq` is not a sequence: it comes from `feed_clock`, whose one row every
            // transaction that records events locks and moves. So events get their numbers in commit
            // order, and a reader that has seen `seq` N has seen every event numbered below it.
            """
            CREATE TABLE revocation_events (
                seq BIGINT PRIMARY KEY,
                type TEXT NOT NULL,
                subject TEXT NOT NULL,
                token_version BIGINT,
                until BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX revocation_events_token ON revocation_events(subject) WHERE type = 'token'",
            "CREATE INDEX revocation_events_until ON revocation_events(until)",
            "CREATE TABLE feed_clock (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL)",
            "INSERT INTO feed_clock (id, seq) VALUES (1, 0)",
            "CREATE TABLE used_id_tokens (key TEXT PRIMARY KEY, until BIGINT NOT NULL)",
            "CREATE INDEX used_id_tokens_until ON used_id_tokens(until)",
            """
            CREATE TABLE billing_events (
                source TEXT NOT NULL,
                event_id TEXT NOT NULL,
                type TEXT NOT NULL,
                occurred_at BIGINT NOT NULL,
                received_at BIGINT NOT NULL,
                outcome TEXT NOT NULL,
                PRIMARY KEY (source, event_id)
            )
            """,
            "CREATE INDEX billing_events_received_at ON billing_events(received_at)",
            """
            CREATE TABLE billing_customers (
                source TEXT NOT NULL,
                customer TEXT NOT NULL,
                user_id TEXT,
                linked_at BIGINT NOT NULL,
                PRIMARY KEY (source, customer)
            )
            """,
            "CREATE INDEX billing_customers_user_id ON billing_customers(user_id)",
            """
            CREATE TABLE billing_subscriptions (
                source TEXT NOT NULL,
                subscription TEXT NOT NULL,
                customer TEXT NOT NULL,
                last_event_at BIGINT NOT NULL,
                final BOOLEAN NOT NULL,
                PRIMARY KEY (source, subscription)
            )
            """,
            "CREATE INDEX billing_subscriptions_customer ON billing_subscriptions(source, customer)",
            """
            CREATE TABLE billing_grants (
                source TEXT NOT NULL,
                subscription TEXT NOT NULL,
                name TEXT NOT NULL,
                expires_at BIGINT,
                PRIMARY KEY (source, subscription, name),
                FOREIGN KEY (source, subscription) REFERENCES billing_subscriptions(source, subscription) ON DELETE CASCADE
            )
            """,
            """
            CREATE TABLE billing_transfers (
                source TEXT NOT NULL,
                customer TEXT NOT NULL,
                to_customer TEXT NOT NULL,
                transferred_at BIGINT NOT NULL,
                PRIMARY KEY (source, customer)
            )
            """,
        ]),
        PostgresMigration(version: 2, name: "shared rate-limit counters", statements: [
            // One row per limited key: the time (ms since 1970, fractional) at which its allowance
            // is whole again (GCRA); a row past that time means the same as no row.
            "CREATE TABLE rate_limits (bucket TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX rate_limits_tat ON rate_limits(tat)",
        ]),
        PostgresMigration(version: 3, name: "audit events", statements: [
            // The audit trail, when the operator keeps it in the database (TEGATA_AUDIT_TABLE).
            // details: a JSON object of strings. Read newest first, all or one user's.
            """
            CREATE TABLE audit_events (
                id TEXT PRIMARY KEY,
                time BIGINT NOT NULL,
                type TEXT NOT NULL,
                outcome TEXT NOT NULL,
                user_id TEXT,
                session_id TEXT,
                client_address TEXT,
                request_id TEXT,
                details TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_events_time ON audit_events(time, id)",
            "CREATE INDEX audit_events_user ON audit_events(user_id, time, id)",
        ]),
        PostgresMigration(version: 4, name: "users: disabled by an operator", statements: [
            // disabled_at set: disabled, until disabled_until (NULL: until enabled again).
            "ALTER TABLE users ADD COLUMN disabled_at BIGINT, ADD COLUMN disabled_until BIGINT",
        ]),
        PostgresMigration(version: 5, name: "users: app claims", statements: [
            // A JSON object, compact with keys sorted (AppClaimRules); NULL: none.
            "ALTER TABLE users ADD COLUMN app_claims TEXT",
        ]),
        PostgresMigration(version: 6, name: "sessions: the sign-in claims hook's claims", statements: [
            // A JSON object, compact with keys sorted (AppClaimRules); NULL: none.
            "ALTER TABLE sessions ADD COLUMN hook_claims TEXT",
        ]),
        PostgresMigration(version: 7, name: "sessions: the DPoP key a session is bound to", statements: [
            // The RFC 7638 thumbprint (base64url); NULL: a bearer session.
            "ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT",
        ]),
    ]
}