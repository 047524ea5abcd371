-- The document log (`doc_updates`) and the topic streams (`topic_events`)
-- become hash-partitioned by their name column, 16 partitions each.
--
-- Why hash by name: every read and write names exactly one document or topic
-- (append, load since seq, compaction's delete up to seq, retention's delete
-- up to seq), so each statement touches one partition, whose index and vacuum
-- stay a sixteenth of the size. The primary keys keep the name first, so they
-- include the partition key and stay unique: `ON CONFLICT (doc, seq)` and
-- `(topic, seq)` work as before. Why not time ranges: retention is per topic
-- kind, by count or age or never, and compaction is per document, so no
-- statement ever drops "everything older than a date" (docs/scaling.md).
--
-- Existing rows are kept: each table is rebuilt as a partitioned table, filled
-- from the old one, which is then dropped and replaced under the same name and
-- index names. Both tables are locked for the copy (the migration runs in one
-- transaction), so start-up on a large store takes as long as the copy.
-- Nodes starting at once wait on the lock; the one that comes second finds the
-- table already partitioned and does nothing.

LOCK TABLE doc_updates, topic_events IN ACCESS EXCLUSIVE MODE;

DO $$
DECLARE
    i INT;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'doc_updates'::regclass) <> 'p' THEN
        CREATE TABLE doc_updates_partitioned (
            doc        TEXT NOT NULL,
            seq        BIGINT NOT NULL,  -- per-document, contiguous from 1
            data       BYTEA NOT NULL,   -- Yjs v1 update as received
            created_at BIGINT NOT NULL,  -- epoch milliseconds
            PRIMARY KEY (doc, seq)
        ) PARTITION BY HASH (doc);
        FOR i IN 0..15 LOOP
            EXECUTE format(
                'CREATE TABLE doc_updates_p%s PARTITION OF doc_updates_partitioned '
                'FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                lpad(i::text, 2, '0'), i);
        END LOOP;
        INSERT INTO doc_updates_partitioned (doc, seq, data, created_at)
            SELECT doc, seq, data, created_at FROM doc_updates;
        DROP TABLE doc_updates;
        ALTER TABLE doc_updates_partitioned RENAME TO doc_updates;
        ALTER INDEX doc_updates_partitioned_pkey RENAME TO doc_updates_pkey;
    END IF;

    IF (SELECT relkind FROM pg_class WHERE oid = 'topic_events'::regclass) <> 'p' THEN
        CREATE TABLE topic_events_partitioned (
            topic   TEXT NOT NULL,
            seq     BIGINT NOT NULL,
            at      BIGINT NOT NULL,
            data    TEXT NOT NULL,       -- JSON
            subject TEXT,                -- the message or comment whose text it carries
            PRIMARY KEY (topic, seq)
        ) PARTITION BY HASH (topic);
        FOR i IN 0..15 LOOP
            EXECUTE format(
                'CREATE TABLE topic_events_p%s PARTITION OF topic_events_partitioned '
                'FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                lpad(i::text, 2, '0'), i);
        END LOOP;
        INSERT INTO topic_events_partitioned (topic, seq, at, data, subject)
            SELECT topic, seq, at, data, subject FROM topic_events;
        DROP TABLE topic_events;
        ALTER TABLE topic_events_partitioned RENAME TO topic_events;
        ALTER INDEX topic_events_partitioned_pkey RENAME TO topic_events_pkey;
        -- The secondary indexes of 0005, built after the copy (one sort
        -- instead of row-by-row inserts); each partition gets its own.
        CREATE INDEX topic_events_subject ON topic_events (topic, subject)
            WHERE subject IS NOT NULL;
        CREATE INDEX topic_events_age ON topic_events (topic, at);
    END IF;
END
$$;

-- Fresh statistics for the planner on the new tables.
ANALYZE doc_updates;
ANALYZE topic_events;
