-- Identity, businesses and roles, the audit log and idempotency keys.
-- Times are epoch milliseconds; ids are UUIDv7 text; flags are 0/1 integers.

-- Accounts. `email` is lower-cased and unique; it, `display_name` and
-- `password_hash` are erased (NULL / '') when the user deletes their personal
-- data, while the row (and so every record pointing at the id) stays.
CREATE TABLE IF NOT EXISTS users (
    id              TEXT PRIMARY KEY,
    email           TEXT UNIQUE,
    display_name    TEXT NOT NULL,
    password_hash   TEXT,             -- argon2id PHC string; NULL: external sign-in only
    platform_admin  INTEGER NOT NULL DEFAULT 0,
    suspended       INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Sign-in sessions: one per login, the family of its refresh tokens. Revoking
-- the family ends the session: its refresh tokens stop working and its access
-- tokens are refused from then on.
CREATE TABLE IF NOT EXISTS auth_sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX IF NOT EXISTS auth_sessions_user ON auth_sessions (user_id);

-- Refresh tokens, stored as SHA-256 hashes. A token is spent once used; using a
-- spent token again revokes its whole family (session).
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES auth_sessions (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    spent_at        BIGINT
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session ON refresh_tokens (session_id);

-- Accounts linked to an external OpenID Connect provider.
CREATE TABLE IF NOT EXISTS external_identities (
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);

-- Pending OpenID Connect sign-ins (state -> PKCE verifier and nonce), so the
-- callback may land on any node.
CREATE TABLE IF NOT EXISTS oidc_pending (
    state           TEXT PRIMARY KEY,
    verifier        TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS businesses (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    created_by          TEXT NOT NULL,
    onboarding_agent    TEXT,          -- the agent who created it for its owner
    verified_at         BIGINT,
    verified_by         TEXT,
    created_at          BIGINT NOT NULL,
    deleted_at          BIGINT
);
CREATE INDEX IF NOT EXISTS businesses_agent ON businesses (onboarding_agent);

CREATE TABLE IF NOT EXISTS business_members (
    business_id     TEXT NOT NULL REFERENCES businesses (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    role            TEXT NOT NULL,     -- owner | admin | agent | viewer
    added_by        TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (business_id, user_id)
);
CREATE INDEX IF NOT EXISTS business_members_user ON business_members (user_id);

-- Idempotency keys: the first outcome of a state-changing call, replayed for a
-- retry with the same key and params. Purged after the retention period.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope           TEXT NOT NULL,     -- the caller: user id, or anon
    idem_key        TEXT NOT NULL,
    method          TEXT NOT NULL,
    params_hash     TEXT NOT NULL,
    state           TEXT NOT NULL,     -- pending | done
    outcome         TEXT,              -- {"ok": result} or {"err": body}
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);

-- The audit log: append-only (the triggers refuse updates and deletes).
CREATE TABLE IF NOT EXISTS audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    actor       TEXT,               -- user id; NULL for anonymous attempts
    action      TEXT NOT NULL,      -- e.g. auth.login, member.role_changed
    target      TEXT,               -- what was acted on (user, business, session id)
    outcome     TEXT NOT NULL,      -- ok | denied | failed
    detail      TEXT NOT NULL,      -- JSON, never personal data
    ip          TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
