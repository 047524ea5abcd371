//! Endpoints: `webhook.create`, `.list`, `.update`, `.delete` and
//! `.rotate_secret`, each change one transaction with its audit entry.

use goonline_engine::audit::{AuditEvent, AuditLog, Outcome};
use goonline_engine::now_ms;
use goonline_engine::ops::{Ctx, OpError};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::client::check_url;
use super::params::{
    BusinessRef, Create, Deleted, Endpoint, EndpointList, EndpointRef, EndpointWithSecret,
    PreviousSecret, Rotate, Update,
};
use super::{MAX_ENDPOINTS, Webhooks, patterns, signing};
use goonline_engine::sql_store::begin_write;

/// The columns [`endpoint_from`] reads, in order.
const COLUMNS: &str =
    "id, business_id, url, events, description, active, created_by, created_at, updated_at";

/// Longest overlap of a rotated secret.
const MAX_KEEP_PREVIOUS_HOURS: u32 = 72;

pub(super) fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

pub(super) fn no_endpoint(id: &str) -> OpError {
    OpError::NotFound(format!("no webhook endpoint `{id}` in this business"))
}

/// The stored list of patterns (a JSON array), read leniently: a row that
/// does not parse receives nothing.
pub(super) fn patterns_from(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn endpoint_from(row: &AnyRow) -> Result<Endpoint, sqlx::Error> {
    let events: String = row.try_get(3)?;
    let active: i64 = row.try_get(5)?;
    Ok(Endpoint {
        id: row.try_get(0)?,
        business_id: row.try_get(1)?,
        url: row.try_get(2)?,
        events: patterns_from(&events),
        description: row.try_get(4)?,
        active: active != 0,
        created_by: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
    })
}

fn ip(ctx: &Ctx) -> Option<String> {
    ctx.caller.ip.map(|i| i.to_string())
}

/// Appends the audit entry of a change to `endpoint` on `conn`.
async fn audit(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    action: &str,
    endpoint: &Endpoint,
    detail: Value,
) -> Result<(), sqlx::Error> {
    let actor = ctx.caller.user_id();
    let mut detail = detail;
    if let Value::Object(m) = &mut detail {
        m.insert("business_id".into(), json!(endpoint.business_id));
    }
    AuditLog::append_in(
        conn,
        &AuditEvent {
            actor,
            action,
            target: Some(&endpoint.id),
            outcome: Outcome::Ok,
            detail,
            ip: ip(ctx),
        },
    )
    .await
}

/// The checked URL, or `invalid_argument` naming `url`.
fn valid_url(hooks: &Webhooks, raw: &str) -> Result<String, OpError> {
    check_url(raw, hooks.settings().block_private).map_err(|m| OpError::invalid("url", m))
}

/// The checked patterns, or `invalid_argument` naming `events`.
fn valid_events(list: &[String]) -> Result<Vec<String>, OpError> {
    patterns::validate(list).map_err(|m| OpError::invalid("events", m))
}

impl Webhooks {
    /// Endpoint `id` of `business`.
    pub(super) async fn endpoint(&self, business: &str, id: &str) -> Result<Endpoint, OpError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND business_id = $2"
        ))
        .bind(id)
        .bind(business)
        .fetch_optional(self.pool())
        .await
        .map_err(db_err("webhook endpoint read"))?;
        match row {
            Some(r) => endpoint_from(&r).map_err(db_err("webhook endpoint read")),
            None => Err(no_endpoint(id)),
        }
    }

    /// `webhook.create`.
    pub(super) async fn create(&self, ctx: &Ctx, p: Create) -> Result<EndpointWithSecret, OpError> {
        let url = valid_url(self, &p.url.0)?;
        let events = valid_events(&p.events.0)?;
        let user = ctx.user()?.id.clone();
        let business = p.business_id.as_str();
        let now = now_ms();
        let endpoint = Endpoint {
            id: uuid::Uuid::now_v7().to_string(),
            business_id: business.to_string(),
            url,
            events,
            description: p
                .description
                .map(|d| d.into_string())
                .filter(|d| !d.is_empty()),
            active: true,
            created_by: user,
            created_at: now,
            updated_at: now,
        };
        let secret = signing::new_secret();
        let err = db_err("webhook.create");
        let mut tx = begin_write(self.pool()).await.map_err(&err)?;
        // (The insert first: on SQLite it takes the write lock before the count.)
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, business_id, url, events, description, active, \
             secret, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8)",
        )
        .bind(&endpoint.id)
        .bind(business)
        .bind(&endpoint.url)
        .bind(json!(endpoint.events).to_string())
        .bind(endpoint.description.as_deref())
        .bind(&secret)
        .bind(&endpoint.created_by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE business_id = $1")
                .bind(business)
                .fetch_one(&mut *tx)
                .await
                .map_err(&err)?;
        if count > MAX_ENDPOINTS {
            return Err(OpError::Conflict(format!(
                "a business may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
            )));
        }
        let detail = json!({ "url": endpoint.url, "events": endpoint.events });
        audit(&mut tx, ctx, "webhook.created", &endpoint, detail)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(EndpointWithSecret {
            endpoint,
            secret,
            previous_secret: None,
        })
    }

    /// `webhook.list`.
    pub(super) async fn list(&self, p: BusinessRef) -> Result<EndpointList, OpError> {
        let endpoints = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE business_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(p.business_id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db_err("webhook.list"))?
        .iter()
        .map(endpoint_from)
        .collect::<Result<_, _>>()
        .map_err(db_err("webhook.list"))?;
        Ok(EndpointList { endpoints })
    }

    /// `webhook.update`.
    pub(super) async fn update(&self, ctx: &Ctx, p: Update) -> Result<Endpoint, OpError> {
        // The params first: a bad value is named whatever the endpoint.
        let url = p.url.as_ref().map(|u| valid_url(self, &u.0)).transpose()?;
        let events = p.events.as_ref().map(|e| valid_events(&e.0)).transpose()?;
        let business = p.business_id.as_str();
        let id = p.endpoint_id.as_str();
        let mut e = self.endpoint(business, id).await?;
        let mut changed = serde_json::Map::new();
        if let Some(url) = url {
            changed.insert("url".into(), json!(url));
            e.url = url;
        }
        if let Some(events) = events {
            changed.insert("events".into(), json!(events));
            e.events = events;
        }
        if let Some(d) = p.description {
            let d = d.into_string();
            changed.insert("description".into(), json!(!d.is_empty()));
            e.description = (!d.is_empty()).then_some(d);
        }
        if let Some(active) = p.active {
            changed.insert("active".into(), json!(active));
            e.active = active;
        }
        e.updated_at = now_ms();
        let err = db_err("webhook.update");
        let mut tx = begin_write(self.pool()).await.map_err(&err)?;
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, events = $2, description = $3, active = $4, \
             updated_at = $5 WHERE id = $6 AND business_id = $7",
        )
        .bind(&e.url)
        .bind(json!(e.events).to_string())
        .bind(e.description.as_deref())
        .bind(i32::from(e.active))
        .bind(e.updated_at)
        .bind(id)
        .bind(business)
        .execute(&mut *tx)
        .await
        .map_err(&err)?
        .rows_affected();
        if n == 0 {
            return Err(no_endpoint(id));
        }
        audit(&mut tx, ctx, "webhook.updated", &e, Value::Object(changed))
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        if e.active {
            // Pending deliveries of a re-activated endpoint are due again.
            self.wake_sender();
        }
        Ok(e)
    }

    /// `webhook.delete`: the endpoint and its delivery log.
    pub(super) async fn delete(&self, ctx: &Ctx, p: EndpointRef) -> Result<Deleted, OpError> {
        let business = p.business_id.as_str();
        let id = p.endpoint_id.as_str();
        let e = self.endpoint(business, id).await?;
        let err = db_err("webhook.delete");
        let mut tx = begin_write(self.pool()).await.map_err(&err)?;
        let n = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND business_id = $2")
            .bind(id)
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(&err)?
            .rows_affected();
        if n == 0 {
            return Err(no_endpoint(id));
        }
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        audit(&mut tx, ctx, "webhook.deleted", &e, json!({ "url": e.url }))
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(Deleted {
            endpoint_id: id.to_string(),
            deleted: true,
        })
    }

    /// `webhook.rotate_secret`: a new secret; the previous one keeps signing
    /// beside it for `keep_previous_hours`.
    pub(super) async fn rotate(&self, ctx: &Ctx, p: Rotate) -> Result<EndpointWithSecret, OpError> {
        let hours = p.keep_previous_hours.unwrap_or(24);
        if hours > MAX_KEEP_PREVIOUS_HOURS {
            return Err(OpError::invalid(
                "keep_previous_hours",
                format!("must be 0 to {MAX_KEEP_PREVIOUS_HOURS}, got {hours}"),
            ));
        }
        let business = p.business_id.as_str();
        let id = p.endpoint_id.as_str();
        let mut e = self.endpoint(business, id).await?;
        let now = now_ms();
        e.updated_at = now;
        let until = (hours > 0).then(|| now + i64::from(hours) * 3_600_000);
        let secret = signing::new_secret();
        let err = db_err("webhook.rotate_secret");
        let mut tx = begin_write(self.pool()).await.map_err(&err)?;
        // The old secret becomes the previous one only while it signs.
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET \
             previous_secret = CASE WHEN $1 > 0 THEN secret ELSE NULL END, \
             previous_secret_until = $2, secret = $3, updated_at = $4 \
             WHERE id = $5 AND business_id = $6",
        )
        .bind(i64::from(hours))
        .bind(until)
        .bind(&secret)
        .bind(now)
        .bind(id)
        .bind(business)
        .execute(&mut *tx)
        .await
        .map_err(&err)?
        .rows_affected();
        if n == 0 {
            return Err(no_endpoint(id));
        }
        let detail = json!({ "keep_previous_hours": hours });
        audit(&mut tx, ctx, "webhook.secret_rotated", &e, detail)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(EndpointWithSecret {
            endpoint: e,
            secret,
            previous_secret: until.map(|expires_at| PreviousSecret { expires_at }),
        })
    }
}
