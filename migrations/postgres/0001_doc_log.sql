-- The durable document log: a snapshot per document plus the updates since.
CREATE TABLE IF NOT EXISTS doc_snapshots (
    doc        TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,  -- the last update sequence the snapshot covers
    data       BYTEA NOT NULL,    -- Yjs v1 update encoding the whole document
    updated_at BIGINT NOT NULL   -- epoch milliseconds
);

CREATE TABLE IF NOT EXISTS doc_updates (
    doc        TEXT NOT NULL,
    seq        BIGINT NOT NULL,  -- per-document, contiguous from 1
    data       BYTEA NOT NULL,    -- Yjs v1 update as received
    created_at BIGINT NOT NULL,  -- epoch milliseconds
    PRIMARY KEY (doc, seq)
);
