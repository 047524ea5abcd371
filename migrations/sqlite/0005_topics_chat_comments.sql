-- Topics (ordered durable streams), chat panels and comment threads.
-- Times are epoch milliseconds; ids are UUIDv7 text.

-- One row per topic: its newest sequence number and the oldest it still keeps.
-- Appending an event bumps `last_seq` in the event's transaction, so committed
-- sequence numbers are dense (a rolled-back append leaves no hole).
CREATE TABLE IF NOT EXISTS topics (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    last_seq    BIGINT NOT NULL,        -- newest event (0: none yet)
    first_seq   BIGINT NOT NULL,        -- oldest event kept (last_seq + 1 when none)
    created_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS topics_kind ON topics (kind);

CREATE TABLE IF NOT EXISTS topic_events (
    topic   TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    data    TEXT NOT NULL,              -- JSON
    subject TEXT,                       -- the message or comment whose text it carries
    PRIMARY KEY (topic, seq)
);
-- A deletion blanks the text in the events about what it deletes.
CREATE INDEX IF NOT EXISTS topic_events_subject ON topic_events (topic, subject) WHERE subject IS NOT NULL;
-- Retention by age finds each topic's cut-off without scanning it.
CREATE INDEX IF NOT EXISTS topic_events_age ON topic_events (topic, at);

-- Chats: channels (named, any member) and direct conversations (two members).
CREATE TABLE IF NOT EXISTS chats (
    id          TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- channel | direct
    name        TEXT,                   -- channels only
    topic       TEXT NOT NULL UNIQUE,   -- where its events go
    member_a    TEXT,                   -- direct only: the two members, a < b
    member_b    TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE UNIQUE INDEX IF NOT EXISTS chats_channel_name ON chats (business_id, name) WHERE kind = 'channel';
CREATE UNIQUE INDEX IF NOT EXISTS chats_direct_pair ON chats (business_id, member_a, member_b) WHERE kind = 'direct';

-- Messages: the seed schema's (id, chat_id, sender_id, body, created_at), plus
-- the client's message id (idempotent sends), the topic sequence number of the
-- message's creation (history pages by it), and edit/delete marks. A deleted
-- message keeps its row with an empty body: a tombstone.
CREATE TABLE IF NOT EXISTS messages (
    id          TEXT PRIMARY KEY,
    chat_id     TEXT NOT NULL,
    sender_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    client_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    edited_at   BIGINT,
    deleted_at  BIGINT,
    deleted_by  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client ON messages (chat_id, sender_id, client_id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_chat_seq ON messages (chat_id, seq);

CREATE TABLE IF NOT EXISTS message_reactions (
    message_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    emoji       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Read state: the last sequence number each member has read in each chat.
CREATE TABLE IF NOT EXISTS chat_reads (
    chat_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    last_read_seq   BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

-- Whether viewers may send chat messages in a business (default: no).
ALTER TABLE businesses ADD COLUMN chat_viewers_can_send INTEGER NOT NULL DEFAULT 0;

-- Comment threads on documents, optionally anchored to a position the client
-- provides (e.g. an encoded Yjs relative position), kept as given.
CREATE TABLE IF NOT EXISTS comment_threads (
    id          TEXT PRIMARY KEY,
    doc         TEXT NOT NULL,
    anchor      TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by TEXT
);
CREATE INDEX IF NOT EXISTS comment_threads_doc ON comment_threads (doc, created_at);

CREATE TABLE IF NOT EXISTS comments (
    id          TEXT PRIMARY KEY,
    thread_id   TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    edited_at   BIGINT,
    deleted_at  BIGINT
);
CREATE INDEX IF NOT EXISTS comments_thread ON comments (thread_id, created_at);
