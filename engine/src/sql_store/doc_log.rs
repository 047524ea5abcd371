//! The document log in SQL: group commits that number each document's
//! updates under its `doc_heads` row, and the reads a node uses to catch a
//! live document up (`load_since`, `heads`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;

use bytes::Bytes;
use sqlx::Row;

use super::{APPEND_CHUNK, APPEND_CHUNK_BYTES, Dialect, SqlStore, now_ms, to_seq};
use crate::sql_store::begin_write;
use crate::store::{LogWrite, StoreError, StoredDoc};

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Documents per head upsert or head query (2 parameters each).
const HEAD_CHUNK: usize = 500;

/// The sequence numbers one commit gives out: per document, the head before
/// the commit and the next number to give.
#[derive(Default)]
struct SeqPlan {
    docs: HashMap<Arc<str>, (u64, u64)>,
}

impl SeqPlan {
    /// The next sequence number for an append to `doc`.
    fn take(&mut self, doc: &str) -> Result<u64, StoreError> {
        let (_, next) = self
            .docs
            .get_mut(doc)
            .ok_or_else(|| StoreError::Corrupt(format!("no head reserved for `{doc}`")))?;
        *next += 1;
        Ok(*next - 1)
    }

    /// What a snapshot of `doc` whose writer had everything up to `known`
    /// covers: also this commit's appends before it, when nobody else wrote
    /// the document in between (the head before the commit is `known`).
    fn snapshot_covers(&self, doc: &str, known: u64) -> u64 {
        match self.docs.get(doc) {
            Some((before, next)) if *before == known => next - 1,
            _ => known,
        }
    }
}

impl SqlStore {
    /// Commits `writes` (see [`crate::store::Store::commit`]). A log row
    /// already under a number the head gives out (a head behind its log:
    /// rows written by a node from before heads existed, or restored by hand)
    /// fails the commit, never silently: the heads of the documents involved
    /// are moved past their rows, and the writer's retry succeeds.
    pub(super) async fn commit_writes(&self, writes: &[LogWrite]) -> Result<Vec<u64>, StoreError> {
        match self.commit_once(writes).await {
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                tracing::warn!(error = %e, "a document's head was behind its log; moving it past");
                self.reseed_heads(writes).await?;
                Err(StoreError::Database(e))
            }
            other => other,
        }
    }

    async fn reseed_heads(&self, writes: &[LogWrite]) -> Result<(), StoreError> {
        let mut docs: Vec<&Arc<str>> = writes
            .iter()
            .filter_map(|w| match w {
                LogWrite::Append { doc, .. } => Some(doc),
                LogWrite::Snapshot { .. } => None,
            })
            .collect();
        docs.sort();
        docs.dedup();
        for doc in docs {
            sqlx::query(
                "UPDATE doc_heads SET seq = (SELECT MAX(seq) FROM doc_updates WHERE doc = $1) \
                 WHERE doc = $1 AND seq < (SELECT MAX(seq) FROM doc_updates WHERE doc = $1)",
            )
            .bind(doc.as_ref())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    async fn commit_once(&self, writes: &[LogWrite]) -> Result<Vec<u64>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut tx = begin_write(&self.pool).await?;
        let mut plan = self.reserve_seqs(&mut tx, writes).await?;
        self.refuse_moved(&mut tx, &plan).await?;
        let mut assigned = Vec::with_capacity(writes.len());
        let mut i = 0;
        while i < writes.len() {
            match &writes[i] {
                LogWrite::Append { .. } => {
                    // Gather the run of appends that starts here into multi-row INSERTs.
                    let start = i;
                    let mut bytes = 0usize;
                    while i < writes.len() && i - start < APPEND_CHUNK && bytes < APPEND_CHUNK_BYTES
                    {
                        match &writes[i] {
                            LogWrite::Append { doc, data } => {
                                bytes += data.len();
                                assigned.push(plan.take(doc)?);
                            }
                            LogWrite::Snapshot { .. } => break,
                        }
                        i += 1;
                    }
                    let run = &writes[start..i];
                    let seqs = &assigned[assigned.len() - run.len()..];
                    self.insert_appends(&mut tx, run, seqs, now).await?;
                }
                LogWrite::Snapshot { doc, seq, data } => {
                    let covers = plan.snapshot_covers(doc, *seq);
                    sqlx::query(
                        "INSERT INTO doc_snapshots (doc, seq, data, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (doc) DO UPDATE SET seq = excluded.seq, data = excluded.data, \
                         updated_at = excluded.updated_at WHERE doc_snapshots.seq < excluded.seq",
                    )
                    .bind(doc.as_ref())
                    .bind(covers as i64)
                    .bind(data.as_ref())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM doc_updates WHERE doc = $1 AND seq <= $2")
                        .bind(doc.as_ref())
                        .bind(covers as i64)
                        .execute(&mut *tx)
                        .await?;
                    i += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(assigned)
    }

    /// A document whose head row was just created (it had none) but that has
    /// a redirect was moved while this node still held updates for it: the
    /// move renamed its head row away. Those updates belong to the new name
    /// (their clients resend them there); refuse the whole commit, naming the
    /// documents, so the writer drops them and commits the rest.
    async fn refuse_moved(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        plan: &SeqPlan,
    ) -> Result<(), StoreError> {
        let fresh: Vec<&Arc<str>> = plan
            .docs
            .iter()
            .filter(|(_, (before, _))| *before == 0)
            .map(|(d, _)| d)
            .collect();
        let mut moved = Vec::new();
        for chunk in fresh.chunks(HEAD_CHUNK) {
            let sql = format!(
                "SELECT old_name FROM doc_redirects WHERE old_name IN ({})",
                super::placeholders(chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for d in chunk {
                query = query.bind(d.as_ref());
            }
            moved.extend(query.fetch_all(&mut **tx).await?);
        }
        if moved.is_empty() {
            Ok(())
        } else {
            Err(StoreError::MovedAway(moved))
        }
    }

    /// Moves each appended document's head forward by its number of appends,
    /// under the head row's lock (held to the end of the transaction, so
    /// another node's commit of the same document waits and numbers after
    /// this one). Documents go in name order, so two commits lock shared rows
    /// in the same order and never deadlock.
    async fn reserve_seqs(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        writes: &[LogWrite],
    ) -> Result<SeqPlan, StoreError> {
        // Documents that only get a snapshot are in too (count 0): their head
        // rows are locked in name order with the others, so the snapshot and
        // log rows each transaction touches later are never contended.
        let mut counts: BTreeMap<Arc<str>, u64> = BTreeMap::new();
        for w in writes {
            match w {
                LogWrite::Append { doc, .. } => *counts.entry(doc.clone()).or_default() += 1,
                LogWrite::Snapshot { doc, .. } => {
                    counts.entry(doc.clone()).or_default();
                }
            }
        }
        let mut plan = SeqPlan::default();
        let docs: Vec<(Arc<str>, u64)> = counts.into_iter().collect();
        for chunk in docs.chunks(HEAD_CHUNK) {
            let mut sql = String::from("INSERT INTO doc_heads (doc, seq) VALUES ");
            for n in 0..chunk.len() {
                if n > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "(${}, ${})", 2 * n + 1, 2 * n + 2);
            }
            sql.push_str(
                " ON CONFLICT (doc) DO UPDATE SET seq = doc_heads.seq + excluded.seq \
                 RETURNING doc, seq",
            );
            let mut query = sqlx::query(&sql);
            for (doc, count) in chunk {
                query = query.bind(doc.as_ref()).bind(*count as i64);
            }
            let by_name: HashMap<&str, (&Arc<str>, u64)> =
                chunk.iter().map(|(d, c)| (d.as_ref(), (d, *c))).collect();
            for row in query.fetch_all(&mut **tx).await? {
                let doc: String = row.try_get(0)?;
                let head = to_seq(row.try_get(1)?)?;
                let Some((name, count)) = by_name.get(doc.as_str()) else {
                    return Err(StoreError::Corrupt(format!("head returned for `{doc}`")));
                };
                let before = head.checked_sub(*count).ok_or_else(|| {
                    StoreError::Corrupt(format!("head of `{doc}` went backwards"))
                })?;
                plan.docs.insert(Arc::clone(name), (before, before + 1));
            }
        }
        Ok(plan)
    }

    async fn insert_appends(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        run: &[LogWrite],
        seqs: &[u64],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut sql = String::with_capacity(80 + run.len() * 24);
        sql.push_str("INSERT INTO doc_updates (doc, seq, data, created_at) VALUES ");
        for n in 0..run.len() {
            if n > 0 {
                sql.push_str(", ");
            }
            match self.dialect {
                // SQLite looks up every named parameter by scanning the whole
                // list, so `$n` costs O(n²) over a large batch; plain `?`
                // binds in order for free.
                Dialect::Sqlite => sql.push_str("(?, ?, ?, ?)"),
                Dialect::Postgres => {
                    let p = n * 4;
                    let _ = write!(sql, "(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4);
                }
            }
        }
        let mut query = sqlx::query(&sql);
        for (w, seq) in run.iter().zip(seqs) {
            if let LogWrite::Append { doc, data } = w {
                query = query
                    .bind(doc.as_ref())
                    .bind(*seq as i64)
                    .bind(data.as_ref())
                    .bind(now);
            }
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    /// The snapshot (if it covers more than `after`) and the log rows after
    /// it, read by one statement: two statements could see the database at
    /// two moments, and a compaction committing between them would leave a
    /// hole between the old snapshot and the rows after the new one.
    ///
    /// A whole load (`after` = `None`) takes the snapshot whatever it covers.
    pub(super) async fn load_after(
        &self,
        doc: &str,
        after: Option<u64>,
    ) -> Result<StoredDoc, StoreError> {
        let (min_snapshot, after) = match after {
            Some(a) => (a as i64 + 1, a),
            None => (0, 0),
        };
        let rows = sqlx::query(
            "SELECT 0 AS part, seq, data FROM doc_snapshots WHERE doc = $1 AND seq >= $3 \
             UNION ALL \
             SELECT 1 AS part, seq, data FROM doc_updates WHERE doc = $1 AND seq > $2 \
             ORDER BY part, seq",
        )
        .bind(doc)
        .bind(after as i64)
        .bind(min_snapshot)
        .fetch_all(&self.pool)
        .await?;
        let mut snapshot = None;
        let mut tail = Vec::with_capacity(rows.len());
        for row in rows {
            let part: i64 = row.try_get(0)?;
            let seq = to_seq(row.try_get(1)?)?;
            let data = Bytes::from(row.try_get::<Vec<u8>, _>(2)?);
            if part == 0 {
                snapshot = Some((seq, data));
            } else {
                tail.push((seq, data));
            }
        }
        // Rows the snapshot covers may still be there (written by a commit
        // the snapshot's own transaction did not yet see deleted): skip them.
        let from = snapshot.as_ref().map_or(after, |(s, _)| *s);
        tail.retain(|(seq, _)| *seq > from);
        // What the store holds after `from` is contiguous (commit order is
        // sequence order); a hole means the data is not what we think.
        for (i, (seq, _)) in tail.iter().enumerate() {
            if *seq != from + 1 + i as u64 {
                return Err(StoreError::Corrupt(format!(
                    "doc `{doc}`: log has a hole before seq {seq} (after {from})"
                )));
            }
        }
        Ok(StoredDoc { snapshot, tail })
    }

    pub(super) async fn doc_heads(
        &self,
        docs: &[Arc<str>],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::with_capacity(docs.len());
        for chunk in docs.chunks(HEAD_CHUNK) {
            let sql = format!(
                "SELECT doc, seq FROM doc_heads WHERE doc IN ({})",
                super::placeholders(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for d in chunk {
                query = query.bind(d.as_ref());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push((row.try_get(0)?, to_seq(row.try_get(1)?)?));
            }
        }
        Ok(out)
    }
}
