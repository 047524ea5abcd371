-- Invitations to join a business: a random token handed to the invitee (by
-- the inviter, e.g. by SMS), stored only as its SHA-256 hash. Accepting it
-- makes the signed-in caller a member with `role`. Times are epoch
-- milliseconds; a token works once, until `expires_at`, unless revoked.
CREATE TABLE IF NOT EXISTS invitations (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT UNIQUE NOT NULL,   -- SHA-256 hex of the token
    business_id     TEXT NOT NULL REFERENCES businesses (id),
    email           TEXT,                   -- lower-cased, informational only
    role            TEXT NOT NULL,          -- owner | admin | agent | viewer
    invited_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    accepted_by     TEXT,
    revoked_at      BIGINT
);
CREATE INDEX IF NOT EXISTS invitations_business ON invitations (business_id);
