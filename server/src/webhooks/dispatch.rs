//! The dispatcher: fans domain events out to the endpoints that listen.
//!
//! Undispatched events are read in `pos` order, a batch at a time; for each
//! batch, one transaction inserts a delivery per matching active endpoint of
//! the event's business and marks the events dispatched. The insert is
//! `ON CONFLICT (endpoint_id, event_id) DO NOTHING`, so a batch repeated
//! (a crash before the commit, two servers racing) never makes a second
//! delivery. An endpoint receives only events that happened after it was
//! created. Events of no business (platform events) go nowhere.

use std::collections::HashMap;
use std::time::Duration;

use goonline_engine::Engine;
use goonline_engine::events::EventNotifier;
use goonline_engine::now_ms;
use sqlx::Row;

use super::Webhooks;
use super::endpoints::patterns_from;
use super::patterns;
use goonline_engine::sql_store::begin_write;

/// Events per transaction.
const BATCH: i64 = 200;

/// How often it looks even when not woken.
const POLL: Duration = Duration::from_secs(1);

/// One undispatched event: what the fan-out needs.
struct Pending {
    pos: i64,
    id: String,
    business_id: Option<String>,
    kind: String,
    at: i64,
}

/// An active endpoint: id, patterns, creation time.
type Listener = (String, Vec<String>, i64);

/// Dispatches until the engine drains.
pub(super) async fn run(hooks: Webhooks, engine: Engine, events: EventNotifier) {
    loop {
        if engine.is_closing() {
            return;
        }
        // Whole batches in a row while there is a backlog.
        loop {
            match dispatch_batch(&hooks).await {
                Ok(n) if n as i64 == BATCH && !engine.is_closing() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatch failed; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            _ = events.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Fans out one batch; returns how many events it dispatched.
async fn dispatch_batch(hooks: &Webhooks) -> Result<usize, sqlx::Error> {
    let pool = hooks.pool();
    let rows = sqlx::query(
        "SELECT pos, id, business_id, type, at FROM domain_events \
         WHERE dispatched_at IS NULL ORDER BY pos LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let events: Vec<Pending> = rows
        .iter()
        .map(|r| {
            Ok(Pending {
                pos: r.try_get(0)?,
                id: r.try_get(1)?,
                business_id: r.try_get(2)?,
                kind: r.try_get(3)?,
                at: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let mut listeners: HashMap<String, Vec<Listener>> = HashMap::new();
    for b in events.iter().filter_map(|e| e.business_id.as_deref()) {
        if listeners.contains_key(b) {
            continue;
        }
        let found = sqlx::query(
            "SELECT id, events, created_at FROM webhook_endpoints \
             WHERE business_id = $1 AND active = 1",
        )
        .bind(b)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let events: String = r.try_get(1)?;
            Ok((r.try_get(0)?, patterns_from(&events), r.try_get(2)?))
        })
        .collect::<Result<Vec<Listener>, sqlx::Error>>()?;
        listeners.insert(b.to_string(), found);
    }

    let now = now_ms();
    let mut made = 0usize;
    // Writes only: on SQLite the first statement takes the write lock.
    let mut tx = begin_write(pool).await?;
    for e in &events {
        let targets = e
            .business_id
            .as_deref()
            .and_then(|b| listeners.get(b))
            .into_iter()
            .flatten()
            .filter(|(_, pats, created_at)| {
                *created_at <= e.at && patterns::matches(pats, &e.kind)
            });
        for (endpoint, _, _) in targets {
            made += sqlx::query(
                "INSERT INTO webhook_deliveries (id, endpoint_id, business_id, event_id, \
                 event_type, status, attempts, next_attempt_at, retrying, redeliver, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, 1, 0, $6, $6) \
                 ON CONFLICT (endpoint_id, event_id) DO NOTHING",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(endpoint)
            .bind(e.business_id.as_deref())
            .bind(&e.id)
            .bind(&e.kind)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected() as usize;
        }
        sqlx::query(
            "UPDATE domain_events SET dispatched_at = $1 WHERE pos = $2 AND dispatched_at IS NULL",
        )
        .bind(now)
        .bind(e.pos)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if made > 0 {
        hooks.wake_sender();
    }
    Ok(events.len())
}
