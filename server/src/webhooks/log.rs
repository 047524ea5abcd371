//! The delivery log (`webhook.deliveries`), manual redelivery
//! (`webhook.redeliver`) and test events (`webhook.test`).

use std::collections::HashMap;

use goonline_engine::events::{DomainEvent, emit_in};
use goonline_engine::now_ms;
use goonline_engine::ops::{Ctx, OpError};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Webhooks;
use super::endpoints::db_err;
use super::params::{
    Attempt, AttemptOutcome, Delivery, DeliveryLog, DeliveryRef, DeliveryStatus, EndpointRef,
    ListDeliveries, Queued,
};
use goonline_engine::sql_store::begin_write;

/// Deliveries per page unless asked otherwise, and at most.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Most delivery ids bound in one query.
const IDS_PER_QUERY: usize = 200;

/// The type of the events `webhook.test` sends.
pub(super) const TEST_EVENT: &str = "webhook.test";

fn no_delivery(id: &str) -> OpError {
    OpError::NotFound(format!("no webhook delivery `{id}` in this business"))
}

fn inactive() -> OpError {
    OpError::Conflict(
        "the endpoint is disabled: enable it with webhook.update (active: true) first".into(),
    )
}

/// A delivery row with the claim (in-flight attempt) it holds, if any.
struct LogRow {
    delivery: Delivery,
    claim: Option<String>,
}

fn delivery_from(row: &AnyRow) -> Result<LogRow, sqlx::Error> {
    let status: String = row.try_get(4)?;
    let status = DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed);
    let claim: Option<String> = row.try_get(7)?;
    let next: Option<i64> = row.try_get(6)?;
    Ok(LogRow {
        delivery: Delivery {
            id: row.try_get(0)?,
            endpoint_id: row.try_get(1)?,
            event_id: row.try_get(2)?,
            event_type: row.try_get(3)?,
            status,
            attempt_count: row.try_get(5)?,
            // While an attempt is in flight this is its lease, not a due time.
            next_attempt_at: next.filter(|_| status == DeliveryStatus::Pending && claim.is_none()),
            created_at: row.try_get(8)?,
            updated_at: row.try_get(9)?,
            attempts: Vec::new(),
        },
        claim,
    })
}

fn attempt_from(
    row: &AnyRow,
    claims: &HashMap<String, Option<String>>,
) -> Result<(String, Attempt), sqlx::Error> {
    let id: String = row.try_get(0)?;
    let delivery: String = row.try_get(1)?;
    let manual: i64 = row.try_get(3)?;
    let finished: i64 = row.try_get(5)?;
    let status_code: Option<i64> = row.try_get(6)?;
    let outcome = if finished != 0 {
        if status_code.is_some_and(|s| (200..300).contains(&s)) {
            AttemptOutcome::Succeeded
        } else {
            AttemptOutcome::Failed
        }
    } else if claims
        .get(&delivery)
        .is_some_and(|c| c.as_deref() == Some(id.as_str()))
    {
        AttemptOutcome::InProgress
    } else {
        AttemptOutcome::Interrupted
    };
    Ok((
        delivery,
        Attempt {
            n: row.try_get(2)?,
            manual: manual != 0,
            at: row.try_get(4)?,
            outcome,
            status_code,
            error: row.try_get(7)?,
            duration_ms: row.try_get(8)?,
            response_excerpt: row.try_get(9)?,
        },
    ))
}

impl Webhooks {
    /// `webhook.deliveries`: newest first, with every attempt.
    pub(super) async fn deliveries(&self, p: ListDeliveries) -> Result<DeliveryLog, OpError> {
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(OpError::invalid(
                "limit",
                format!("must be 1 to {MAX_LIMIT}, got {limit}"),
            ));
        }
        let business = p.business_id.as_str();
        let endpoint = p.endpoint_id.as_str();
        self.endpoint(business, endpoint).await?;
        let err = db_err("webhook.deliveries");
        let mut sql = String::from(
            "SELECT id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, \
             claim, created_at, updated_at FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND business_id = $2",
        );
        let mut n = 2;
        if p.status.is_some() {
            n += 1;
            sql.push_str(&format!(" AND status = ${n}"));
        }
        if p.before.is_some() {
            n += 1;
            sql.push_str(&format!(" AND id < ${n}"));
        }
        // Ids are UUIDv7: their order is the order they were made in.
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut q = sqlx::query(&sql).bind(endpoint).bind(business);
        if let Some(s) = p.status {
            q = q.bind(s.as_str());
        }
        if let Some(b) = &p.before {
            q = q.bind(b.as_str());
        }
        // One more than asked for: whether there is a next page.
        let rows = q
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        let mut rows: Vec<LogRow> = rows
            .iter()
            .map(delivery_from)
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let claims: HashMap<String, Option<String>> = rows
            .iter()
            .map(|r| (r.delivery.id.clone(), r.claim.clone()))
            .collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.delivery.id.as_str()).collect();
        let mut attempts: HashMap<String, Vec<Attempt>> = HashMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id, delivery_id, n, manual, at, finished, status_code, error, \
                 duration_ms, response_excerpt FROM webhook_attempts \
                 WHERE delivery_id IN ({}) ORDER BY n",
                goonline_engine::sql_store::placeholders(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await.map_err(&err)? {
                let (delivery, a) = attempt_from(&row, &claims).map_err(&err)?;
                attempts.entry(delivery).or_default().push(a);
            }
        }
        let deliveries: Vec<Delivery> = rows
            .into_iter()
            .map(|mut r| {
                r.delivery.attempts = attempts.remove(&r.delivery.id).unwrap_or_default();
                r.delivery
            })
            .collect();
        let next_before = more
            .then(|| deliveries.last().map(|d| d.id.clone()))
            .flatten();
        Ok(DeliveryLog {
            deliveries,
            next_before,
        })
    }

    /// `webhook.redeliver`: one more attempt now, logged as manual. A
    /// delivery with an attempt in flight gets it right after that one.
    pub(super) async fn redeliver(&self, p: DeliveryRef) -> Result<Queued, OpError> {
        let business = p.business_id.as_str();
        let id = p.delivery_id.as_str();
        let err = db_err("webhook.redeliver");
        let row = sqlx::query(
            "SELECT d.event_id, e.active FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.id = $1 AND d.business_id = $2",
        )
        .bind(id)
        .bind(business)
        .fetch_optional(self.pool())
        .await
        .map_err(&err)?
        .ok_or_else(|| no_delivery(id))?;
        let event_id: String = row.try_get(0).map_err(&err)?;
        let active: i64 = row.try_get(1).map_err(&err)?;
        if active == 0 {
            return Err(inactive());
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE webhook_deliveries SET redeliver = 1, status = 'pending', \
             next_attempt_at = CASE WHEN claim IS NULL THEN $1 ELSE next_attempt_at END, \
             updated_at = $1 WHERE id = $2 AND business_id = $3",
        )
        .bind(now)
        .bind(id)
        .bind(business)
        .execute(self.pool())
        .await
        .map_err(&err)?;
        self.wake_sender();
        Ok(Queued {
            delivery_id: id.to_string(),
            event_id,
            status: DeliveryStatus::Pending,
        })
    }

    /// `webhook.test`: a `webhook.test` event to this endpoint only, tried
    /// once (no retries).
    pub(super) async fn test(&self, ctx: &Ctx, p: EndpointRef) -> Result<Queued, OpError> {
        let business = p.business_id.as_str();
        let endpoint = self.endpoint(business, p.endpoint_id.as_str()).await?;
        if !endpoint.active {
            return Err(inactive());
        }
        let user = ctx.user()?.id.clone();
        let event = DomainEvent::new(
            Some(business),
            TEST_EVENT,
            &endpoint.id,
            Some(&user),
            json!({
                "endpoint_id": endpoint.id,
                "message": "A test event sent with webhook.test.",
            }),
        );
        let now = now_ms();
        let delivery_id = uuid::Uuid::now_v7().to_string();
        let err = db_err("webhook.test");
        let mut tx = begin_write(self.pool()).await.map_err(&err)?;
        emit_in(&mut tx, &event).await.map_err(&err)?;
        // Dispatched already: it goes to this endpoint only.
        sqlx::query("UPDATE domain_events SET dispatched_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&event.id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, business_id, event_id, event_type, \
             status, attempts, next_attempt_at, retrying, redeliver, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, 0, 0, $6, $6)",
        )
        .bind(&delivery_id)
        .bind(&endpoint.id)
        .bind(business)
        .bind(&event.id)
        .bind(TEST_EVENT)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        self.wake_sender();
        Ok(Queued {
            delivery_id,
            event_id: event.id,
            status: DeliveryStatus::Pending,
        })
    }
}
