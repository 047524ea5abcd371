//! The sender: claims due deliveries, POSTs them, records the outcome.
//!
//! A claim is one conditional UPDATE: it succeeds only if the delivery is
//! still pending, due, and unchanged since it was read (attempt count and
//! redelivery flag), and it sets `claim` to the new attempt's id and
//! `next_attempt_at` to the end of a lease. The attempt's row is written in
//! the same transaction, before anything is sent, so the log shows an
//! attempt cut short by a stop. Two senders (two servers) can never claim the
//! same attempt; a sender that died mid-attempt leaves the lease to expire,
//! and the delivery is tried again. A delivery that succeeded is never sent
//! again, unless someone asks with `webhook.redeliver`.

use goonline_engine::metrics::inc;
use std::time::{Duration, Instant};

use goonline_engine::Engine;
use goonline_engine::now_ms;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use tokio::task::JoinSet;

use super::client::Outcome;
use super::{Webhooks, schedule, signing};
use goonline_engine::sql_store::begin_write;

/// How often it looks even when not woken.
const POLL: Duration = Duration::from_secs(1);

/// How often finished deliveries past their retention are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// A claimed attempt.
struct Claimed {
    delivery_id: String,
    event_id: String,
    endpoint_id: String,
    /// This attempt's id (the claim).
    attempt_id: String,
    /// Its number, 1 for the first.
    n: i64,
    /// Whether the automatic retries run (false for a one-off attempt).
    retrying: bool,
}

/// The body of every delivery.
#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created: i64,
    business_id: Option<&'a str>,
    subject: &'a str,
    actor: Option<&'a str>,
    data: Value,
}

/// Sends until the engine drains, then lets attempts in flight finish (each
/// is bounded by the timeout) so their outcomes are recorded.
pub(super) async fn run(hooks: Webhooks, engine: Engine) {
    let mut inflight: JoinSet<()> = JoinSet::new();
    let mut last_purge: Option<Instant> = None;
    while !engine.is_closing() {
        let free = hooks.settings().concurrency.saturating_sub(inflight.len());
        if free > 0 {
            match claim_due(&hooks, free).await {
                Ok(claims) => {
                    for c in claims {
                        inflight.spawn(attempt(hooks.clone(), c));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            last_purge = Some(Instant::now());
            if let Err(e) = purge(&hooks).await {
                tracing::warn!(error = %e, "webhook delivery log purge failed");
            }
        }
        tokio::select! {
            _ = hooks.inner.wake.notified() => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    while inflight.join_next().await.is_some() {}
}

/// Claims up to `max` due deliveries of active endpoints, oldest due first.
async fn claim_due(hooks: &Webhooks, max: usize) -> Result<Vec<Claimed>, sqlx::Error> {
    let pool = hooks.pool();
    let now = now_ms();
    let due = sqlx::query(
        "SELECT d.id, d.event_id, d.endpoint_id, d.attempts, d.redeliver, d.retrying \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND e.active = 1 \
         ORDER BY d.next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(max as i64)
    .fetch_all(pool)
    .await?;
    let lease_until = now + hooks.settings().lease().as_millis() as i64;
    let mut claimed = Vec::new();
    for row in due {
        let delivery_id: String = row.try_get(0)?;
        let attempts: i64 = row.try_get(3)?;
        let redeliver: i64 = row.try_get(4)?;
        let retrying: i64 = row.try_get(5)?;
        let attempt_id = uuid::Uuid::now_v7().to_string();
        let mut tx = begin_write(pool).await?;
        let won = sqlx::query(
            "UPDATE webhook_deliveries SET claim = $1, attempts = attempts + 1, redeliver = 0, \
             next_attempt_at = $2, updated_at = $3 \
             WHERE id = $4 AND status = 'pending' AND next_attempt_at <= $3 \
             AND attempts = $5 AND redeliver = $6",
        )
        .bind(&attempt_id)
        .bind(lease_until)
        .bind(now)
        .bind(&delivery_id)
        .bind(attempts)
        .bind(redeliver)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            // Someone else's (another server's), or changed since it was read.
            continue;
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, n, manual, at, finished) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(&attempt_id)
        .bind(&delivery_id)
        .bind(attempts + 1)
        .bind(i32::from(redeliver != 0))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        claimed.push(Claimed {
            delivery_id,
            event_id: row.try_get(1)?,
            endpoint_id: row.try_get(2)?,
            attempt_id,
            n: attempts + 1,
            retrying: retrying != 0,
        });
    }
    Ok(claimed)
}

/// Makes one claimed attempt and records it; a database failure is logged
/// (the lease then expires and the delivery is tried again).
async fn attempt(hooks: Webhooks, c: Claimed) {
    let outcome = match request(&hooks, &c).await {
        Ok(Some((url, headers, body))) => hooks.inner.client.post(&url, headers, body).await,
        Ok(None) => Outcome::refused("not sent: the event is no longer stored".into()),
        Err(e) => {
            tracing::warn!(error = %e, delivery = %c.delivery_id, "webhook delivery not prepared");
            return;
        }
    };
    if let Err(e) = record(&hooks, &c, &outcome).await {
        tracing::warn!(error = %e, delivery = %c.delivery_id, "webhook attempt not recorded");
    }
}

/// The URL, headers and body of attempt `c`; `None` if its event is gone.
async fn request(
    hooks: &Webhooks,
    c: &Claimed,
) -> Result<Option<(String, HeaderMap, Vec<u8>)>, sqlx::Error> {
    let pool = hooks.pool();
    let endpoint = sqlx::query(
        "SELECT url, secret, previous_secret, previous_secret_until \
         FROM webhook_endpoints WHERE id = $1",
    )
    .bind(&c.endpoint_id)
    .fetch_optional(pool)
    .await?;
    let event = sqlx::query(
        "SELECT id, type, at, business_id, subject, actor, data FROM domain_events WHERE id = $1",
    )
    .bind(&c.event_id)
    .fetch_optional(pool)
    .await?;
    let (Some(endpoint), Some(event)) = (endpoint, event) else {
        return Ok(None);
    };
    let url: String = endpoint.try_get(0)?;
    let secret: String = endpoint.try_get(1)?;
    let previous: Option<String> = endpoint.try_get(2)?;
    let previous_until: Option<i64> = endpoint.try_get(3)?;
    let (id, kind): (String, String) = (event.try_get(0)?, event.try_get(1)?);
    let (business, subject): (Option<String>, String) = (event.try_get(3)?, event.try_get(4)?);
    let actor: Option<String> = event.try_get(5)?;
    let data: String = event.try_get(6)?;
    let payload = Payload {
        id: &id,
        kind: &kind,
        created: event.try_get(2)?,
        business_id: business.as_deref(),
        subject: &subject,
        actor: actor.as_deref(),
        data: serde_json::from_str(&data).unwrap_or(Value::String(data.clone())),
    };
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    let now = now_ms();
    let mut secrets = vec![secret.as_str()];
    if let (Some(p), Some(until)) = (previous.as_deref(), previous_until)
        && until > now
    {
        secrets.push(p);
    }
    let signature = signing::header(&secrets, now / 1000, &body);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in [
        ("goonline-signature", signature.as_str()),
        ("goonline-event-id", id.as_str()),
        ("goonline-event-type", kind.as_str()),
        ("goonline-delivery-id", c.delivery_id.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    Ok(Some((url, headers, body)))
}

/// Records attempt `c`'s outcome and what follows: done, a retry on the
/// schedule, given up, or (asked for meanwhile) a manual redelivery now.
async fn record(hooks: &Webhooks, c: &Claimed, o: &Outcome) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let settings = hooks.settings();
    let (status, next, retrying) = if o.succeeded() {
        ("succeeded", None, false)
    } else if c.retrying && c.n < settings.max_attempts {
        let wait = schedule::delay(settings.retry_base, c.n);
        ("pending", Some(now + wait.as_millis() as i64), true)
    } else {
        ("failed", None, false)
    };
    let mut tx = begin_write(hooks.pool()).await?;
    sqlx::query(
        "UPDATE webhook_attempts SET finished = 1, status_code = $1, error = $2, \
         duration_ms = $3, response_excerpt = $4 WHERE id = $5",
    )
    .bind(o.status_code.map(i64::from))
    .bind(o.error.as_deref())
    .bind(o.duration.as_millis() as i64)
    .bind(o.excerpt.as_deref())
    .bind(&c.attempt_id)
    .execute(&mut *tx)
    .await?;
    // Only while the claim is still this attempt's (it always is, unless the
    // lease ran out and another sender took over).
    sqlx::query(
        "UPDATE webhook_deliveries SET claim = NULL, \
         status = CASE WHEN redeliver = 1 THEN 'pending' ELSE $1 END, \
         next_attempt_at = CASE WHEN redeliver = 1 THEN $2 ELSE $3 END, \
         retrying = $4, updated_at = $2 WHERE id = $5 AND claim = $6",
    )
    .bind(status)
    .bind(now)
    .bind(next)
    .bind(i32::from(retrying))
    .bind(&c.delivery_id)
    .bind(&c.attempt_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let m = hooks.metrics();
    match status {
        "succeeded" => inc(&m.webhook_delivered),
        "failed" => {
            inc(&m.webhook_attempts_failed);
            inc(&m.webhook_given_up);
        }
        _ => inc(&m.webhook_attempts_failed),
    }
    if status == "pending" {
        tracing::debug!(delivery = %c.delivery_id, n = c.n, "webhook attempt failed; retry scheduled");
    }
    Ok(())
}

/// Deletes finished deliveries (and their attempts) older than the log's
/// retention, and deliveries whose endpoint is gone.
async fn purge(hooks: &Webhooks) -> Result<(), sqlx::Error> {
    let before = now_ms() - hooks.settings().keep_log.as_millis() as i64;
    let stale = "SELECT id FROM webhook_deliveries WHERE (status <> 'pending' AND updated_at < $1) \
                 OR endpoint_id NOT IN (SELECT id FROM webhook_endpoints)";
    let mut tx = begin_write(hooks.pool()).await?;
    sqlx::query(&format!(
        "DELETE FROM webhook_attempts WHERE delivery_id IN ({stale})"
    ))
    .bind(before)
    .execute(&mut *tx)
    .await?;
    let n = sqlx::query(&format!(
        "DELETE FROM webhook_deliveries WHERE id IN ({stale})"
    ))
    .bind(before)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    if n > 0 {
        tracing::info!(deleted = n, "old webhook deliveries deleted");
    }
    Ok(())
}
