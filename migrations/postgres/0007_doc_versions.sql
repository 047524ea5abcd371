-- Document versions and edit attribution.
-- Times are epoch milliseconds; ids are UUIDv7 text.

-- A version is a whole-document snapshot (Yjs v1 update) with a label and an
-- author. It is kept apart from the log, so compaction never removes it.
CREATE TABLE IF NOT EXISTS doc_versions (
    id         TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    seq        BIGINT NOT NULL,             -- the last log sequence it covers
    kind       TEXT NOT NULL,               -- named | auto | before_restore
    label      TEXT,                        -- the name a member gave it
    author     TEXT,                        -- user id; NULL for automatic versions
    created_at BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    data       BYTEA NOT NULL
);
-- Listed newest first by id (UUIDv7 ids sort by creation time).
CREATE INDEX IF NOT EXISTS doc_versions_doc ON doc_versions (doc, id);

-- Who edited which top-level type of a document, over which log sequences:
-- one row per (document, user, top-level type) and flush window. Diffs
-- between versions name their authors from here; it outlives log compaction.
CREATE TABLE IF NOT EXISTS doc_activity (
    doc       TEXT NOT NULL,
    user_id   TEXT NOT NULL,                -- '' for an edit without a signed-in user
    root      TEXT NOT NULL,                -- top-level type name
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL,
    edits     BIGINT NOT NULL,
    last_at   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_activity_doc ON doc_activity (doc, last_seq);
