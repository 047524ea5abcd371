//! Domain events: the outbox every feature writes to in the same transaction
//! as the change it reports (`doc.created`, `doc.versioned`, ...).
//!
//! An event is a row in `domain_events`; nothing is sent from here. Consumers
//! (outbound webhooks today, plugin handlers later) read undispatched rows in
//! `pos` order, record their own deliveries and mark the event dispatched in
//! one transaction, so a crash between the change and the delivery loses
//! nothing and a restart repeats nothing. [`EventNotifier`] wakes a consumer
//! when an event commits instead of leaving it to its next poll.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;

use crate::clock::now_ms;

/// One domain event, before it is written.
#[derive(Debug, Clone, Serialize)]
pub struct DomainEvent {
    /// Its id (UUIDv7): the idempotency key consumers deduplicate by.
    pub id: String,
    /// The business it belongs to; `None` for platform events.
    pub business_id: Option<String>,
    /// Dotted type, e.g. `doc.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it is about: a document name, a workspace id, ...
    pub subject: String,
    /// The user who caused it, if one did.
    pub actor: Option<String>,
    /// Type-specific fields.
    pub data: Value,
    /// When it happened (epoch milliseconds).
    pub at: i64,
}

impl DomainEvent {
    /// A new event happening now, with a fresh id.
    pub fn new(
        business_id: Option<&str>,
        kind: &str,
        subject: &str,
        actor: Option<&str>,
        data: Value,
    ) -> DomainEvent {
        DomainEvent {
            id: uuid::Uuid::now_v7().to_string(),
            business_id: business_id.map(str::to_string),
            kind: kind.to_string(),
            subject: subject.to_string(),
            actor: actor.map(str::to_string),
            data,
            at: now_ms(),
        }
    }
}

/// Writes `event` to the outbox on `conn`, inside the caller's transaction.
pub async fn emit_in(
    conn: &mut sqlx::AnyConnection,
    event: &DomainEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO domain_events (id, business_id, type, subject, actor, data, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&event.id)
    .bind(event.business_id.as_deref())
    .bind(&event.kind)
    .bind(&event.subject)
    .bind(event.actor.as_deref())
    .bind(event.data.to_string())
    .bind(event.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Wakes outbox consumers on this node after an event commits. Cheap to clone;
/// a consumer still polls, so a missed wake-up only delays it.
#[derive(Clone, Default)]
pub struct EventNotifier(Arc<Notify>);

impl EventNotifier {
    /// Says new events are committed.
    pub fn notify(&self) {
        self.0.notify_waiters();
        self.0.notify_one();
    }

    /// Waits for the next [`EventNotifier::notify`].
    pub async fn notified(&self) {
        self.0.notified().await
    }
}
