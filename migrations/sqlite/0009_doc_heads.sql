-- The newest sequence number given to each document's updates. The store
-- numbers a commit's updates itself, under this row's lock, so nodes that
-- write the same document at once never collide and commit order is sequence
-- order (a reader that sees seq n can read every seq below it).
CREATE TABLE IF NOT EXISTS doc_heads (
    doc TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

INSERT INTO doc_heads (doc, seq)
SELECT doc, MAX(seq) FROM (
    SELECT doc, seq FROM doc_updates
    UNION ALL
    SELECT doc, seq FROM doc_snapshots
) AS known
GROUP BY doc;
