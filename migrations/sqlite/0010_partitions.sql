-- Nothing to do on SQLite. On Postgres this migration hash-partitions
-- `doc_updates` and `topic_events` by document and topic name (see
-- migrations/postgres/0010_partitions.sql and docs/scaling.md). SQLite has no
-- table partitioning, and it does not need it: an embedded store serves one
-- node, whose tables stay small enough for one B-tree each. The version is
-- still recorded, so both dialects share one numbering.
SELECT 1;
