-- Workspaces, first-class documents and guest access for partners.
-- Times are epoch milliseconds; ids are UUIDv7 text.

-- A workspace groups a business's documents (`biz/{business}/ws/{workspace}/...`).
CREATE TABLE IF NOT EXISTS workspaces (
    id          TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    name        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT                      -- archived: its documents are read-only
);
CREATE INDEX IF NOT EXISTS workspaces_business ON workspaces (business_id);

-- One row per document in a workspace. `name` is the room and log key
-- (`biz/{business}/ws/{workspace}/{id}`); it changes when the document moves,
-- `id` never does.
CREATE TABLE IF NOT EXISTS docs (
    name           TEXT PRIMARY KEY,
    id             TEXT UNIQUE NOT NULL,
    business_id    TEXT NOT NULL,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    title          TEXT NOT NULL,
    kind           TEXT NOT NULL,           -- text | table | inventory | board | ...
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_edited_at BIGINT,
    last_edited_by TEXT,
    size_bytes     BIGINT NOT NULL DEFAULT 0,
    archived_at    BIGINT,                  -- archived: read-only, hidden from the default list
    deleted_at     BIGINT,                  -- deleted: closed; content kept for the grace period
    deleted_by     TEXT
);
CREATE INDEX IF NOT EXISTS docs_workspace ON docs (workspace_id);
CREATE INDEX IF NOT EXISTS docs_business ON docs (business_id);
CREATE INDEX IF NOT EXISTS docs_deleted ON docs (deleted_at) WHERE deleted_at IS NOT NULL;

-- Where a moved document went, so a client opening the old name is told.
CREATE TABLE IF NOT EXISTS doc_redirects (
    old_name TEXT PRIMARY KEY,
    new_name TEXT NOT NULL,
    at       BIGINT NOT NULL
);

-- People who are not members of the business, with access to one workspace.
CREATE TABLE IF NOT EXISTS workspace_guests (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    user_id      TEXT NOT NULL,
    business_id  TEXT NOT NULL,
    access       TEXT NOT NULL,             -- read | write
    granted_by   TEXT NOT NULL,
    granted_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX IF NOT EXISTS workspace_guests_user ON workspace_guests (user_id);

-- Email invitations to a workspace as a guest: the token's SHA-256 only.
CREATE TABLE IF NOT EXISTS guest_invitations (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT UNIQUE NOT NULL,
    business_id  TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    email        TEXT NOT NULL,             -- lower-cased; the accepting account's email must match
    access       TEXT NOT NULL,             -- read | write
    invited_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    accepted_by  TEXT,
    revoked_at   BIGINT
);
CREATE INDEX IF NOT EXISTS guest_invitations_workspace ON guest_invitations (workspace_id);
