//! Topics in SQL: the `topics` row per topic (newest and oldest kept sequence
//! numbers) and the `topic_events` log.
//!
//! An append bumps the topic's `last_seq` and inserts the event in the caller's
//! transaction: the row update serializes appenders of one topic (a row lock on
//! Postgres, the single writer on SQLite), so committed sequence numbers are
//! dense and increase in commit order of the bump.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Row};

use super::TopicEvent;
use super::kinds::Retention;
use crate::sql_store::begin_write;

/// Appends an event to `topic` whose data (JSON text) `data` makes from its
/// sequence number; returns that number. Runs in the caller's transaction.
pub(crate) async fn append_in(
    conn: &mut AnyConnection,
    topic: &str,
    kind: &str,
    at: i64,
    subject: Option<&str>,
    data: impl FnOnce(u64) -> String,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO topics (name, kind, last_seq, first_seq, created_at) \
         VALUES ($1, $2, 0, 1, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(topic)
    .bind(kind)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE topics SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq",
    )
    .bind(topic)
    .fetch_one(&mut *conn)
    .await?;
    let seq = seq.max(0);
    let data = data(seq as u64);
    sqlx::query(
        "INSERT INTO topic_events (topic, seq, at, data, subject) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(topic)
    .bind(seq)
    .bind(at)
    .bind(&data)
    .bind(subject)
    .execute(&mut *conn)
    .await?;
    Ok(seq as u64)
}

/// The oldest kept and the newest sequence numbers of `topic`: `(1, 0)` for a
/// topic with no events yet.
pub(crate) async fn bounds(pool: &AnyPool, topic: &str) -> Result<(u64, u64), sqlx::Error> {
    let row = sqlx::query("SELECT first_seq, last_seq FROM topics WHERE name = $1")
        .bind(topic)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => (
            r.try_get::<i64, _>(0)?.max(1) as u64,
            r.try_get::<i64, _>(1)?.max(0) as u64,
        ),
        None => (1, 0),
    })
}

fn event_from(topic: &Arc<str>, row: &sqlx::any::AnyRow) -> Result<TopicEvent, sqlx::Error> {
    let data: String = row.try_get(2)?;
    let data = serde_json::from_str(&data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(TopicEvent {
        topic: topic.clone(),
        seq: row.try_get::<i64, _>(0)?.max(0) as u64,
        at: row.try_get(1)?,
        data: Arc::new(data),
    })
}

/// Up to `limit` events of `topic` after `after`, in order.
pub(crate) async fn read_after(
    pool: &AnyPool,
    topic: &Arc<str>,
    after: u64,
    limit: u32,
) -> Result<Vec<TopicEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, data FROM topic_events WHERE topic = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3",
    )
    .bind(&**topic)
    .bind(after.min(i64::MAX as u64) as i64)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| event_from(topic, r)).collect()
}

/// The newest event of `topic`, if it keeps one.
pub(crate) async fn newest(
    pool: &AnyPool,
    topic: &Arc<str>,
) -> Result<Option<TopicEvent>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT seq, at, data FROM topic_events WHERE topic = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&**topic)
    .fetch_optional(pool)
    .await?;
    row.map(|r| event_from(topic, &r)).transpose()
}

/// Drops the events of every topic of `kind` that `retention` no longer keeps,
/// and moves their `first_seq` up. Returns how many events were dropped.
///
/// Each topic's cut-off (the newest sequence number to drop) is found first;
/// then, per topic, events up to it are deleted and `first_seq` set past it.
/// Events go oldest first and only by sequence number, so what is kept is
/// always a contiguous tail (never a hole a replay would skip silently), and
/// `first_seq` never depends on `last_seq`, which an append may be moving at
/// the same moment.
pub(crate) async fn trim(
    pool: &AnyPool,
    kind: &str,
    retention: Retention,
    now_ms: i64,
) -> Result<u64, sqlx::Error> {
    let mut cutoffs: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    if let Some(n) = retention.max_events {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT name, last_seq - $2 FROM topics \
             WHERE kind = $1 AND last_seq - $2 >= first_seq",
        )
        .bind(kind)
        .bind(n.min(i64::MAX as u64) as i64)
        .fetch_all(pool)
        .await?;
        cutoffs.extend(rows);
    }
    if let Some(age) = retention.max_age {
        let cutoff = now_ms.saturating_sub(age.as_millis().min(i64::MAX as u128) as i64);
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT topic, MAX(seq) FROM topic_events \
             WHERE topic IN (SELECT name FROM topics WHERE kind = $1) AND at < $2 \
             GROUP BY topic",
        )
        .bind(kind)
        .bind(cutoff)
        .fetch_all(pool)
        .await?;
        for (topic, seq) in rows {
            let c = cutoffs.entry(topic).or_insert(seq);
            *c = (*c).max(seq);
        }
    }
    let mut dropped = 0;
    for (topic, cutoff) in cutoffs {
        let mut tx = begin_write(pool).await?;
        dropped += sqlx::query("DELETE FROM topic_events WHERE topic = $1 AND seq <= $2")
            .bind(&topic)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE topics SET first_seq = $2 + 1 WHERE name = $1 AND first_seq <= $2")
            .bind(&topic)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(dropped)
}

/// Rewrites, with `edit`, the stored events of `topic` about `subject`; returns
/// how many. Runs in the caller's transaction.
pub(crate) async fn redact_in(
    conn: &mut AnyConnection,
    topic: &str,
    subject: &str,
    edit: impl Fn(&mut serde_json::Value),
) -> Result<u64, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, data FROM topic_events WHERE topic = $1 AND subject = $2")
            .bind(topic)
            .bind(subject)
            .fetch_all(&mut *conn)
            .await?;
    for (seq, data) in &rows {
        let mut value: serde_json::Value =
            serde_json::from_str(data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        edit(&mut value);
        sqlx::query("UPDATE topic_events SET data = $1 WHERE topic = $2 AND seq = $3")
            .bind(value.to_string())
            .bind(topic)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(rows.len() as u64)
}
