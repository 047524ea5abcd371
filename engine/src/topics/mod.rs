//! Topics: named, ordered, durable streams of events — a chat channel, a
//! document's comments, a business's orders, a dashboard's metrics.
//!
//! - [`name`]: topic names (`biz/{id}/{kind}/...`, `user/{id}/{kind}/...`,
//!   `platform/{kind}`).
//! - [`kinds`]: what a kind decides: access, retention, latest-value.
//! - `store`: the SQL (`topics`, `topic_events`).
//! - `hub`: live delivery on this node, in sequence order.
//! - [`presence`]: ephemeral per-connection states in a topic.
//! - [`subscription`]: a session's subscription: replay, then live.
//! - [`ops`]: `topic.events`, history pages for clients that are not connected.
//! - [`feed`]: metric samples for latest-value topics, and the server's own.
//!
//! Events are appended by server-side code only (an operation, a plugin), in the
//! transaction of the change they describe ([`Topics::append_in`]), and offered
//! to live subscribers once that transaction has committed ([`Topics::publish`]).

mod cluster;
pub mod feed;
mod hub;
pub mod kinds;
pub mod name;
pub mod ops;
pub mod presence;
mod store;
pub mod subscription;

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Serialize;
use sqlx::AnyConnection;

pub use hub::{LatestSlot, TopicBroadcast};
pub use kinds::{OwnerAccess, Retention, TopicAccess, TopicKind, TopicKinds, TopicRefusal};
pub use name::{Owner, TopicName};
pub use presence::PresenceBroadcast;

use crate::access::Principal;
use crate::clock::now_ms;
use crate::metrics::Metrics;
use crate::sql_store::SqlStore;
use crate::sql_store::begin_write;

/// One event of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TopicEvent {
    /// The topic.
    #[schemars(with = "String")]
    pub topic: Arc<str>,
    /// Its sequence number in the topic (1, 2, ...).
    pub seq: u64,
    /// When it was appended (epoch ms).
    pub at: i64,
    /// What happened (a JSON object; its shape depends on the kind).
    #[schemars(with = "serde_json::Value")]
    pub data: Arc<serde_json::Value>,
}

/// Why a topic action failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The name is malformed.
    #[error(transparent)]
    BadName(#[from] name::BadTopicName),
    /// No kind of that name is registered.
    #[error("unknown topic kind `{0}`")]
    UnknownKind(String),
    /// Access was refused, or the topic does not exist.
    #[error("{}", refusal_message(.0))]
    Refused(TopicRefusal),
    /// `since`/`after` names an event the topic never had.
    #[error("`{field}` is {value} but topic `{topic}` has only {last} events")]
    Ahead {
        /// The parameter.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The topic.
        topic: String,
        /// Its newest sequence number.
        last: u64,
    },
    /// Latest-value facility used on a kind that is not latest-value (a bug).
    #[error("topic kind `{0}` is not a latest-value kind")]
    NotLatestValue(String),
    /// The store failed; nothing was appended.
    #[error("topic store: {0}")]
    Db(#[from] sqlx::Error),
}

fn refusal_message(r: &TopicRefusal) -> &str {
    match r {
        TopicRefusal::Unauthorized(m)
        | TopicRefusal::Forbidden(m)
        | TopicRefusal::NotFound(m)
        | TopicRefusal::Unavailable(m) => m,
    }
}

/// Settings for [`Topics`].
#[derive(Debug, Clone)]
pub struct TopicsConfig {
    /// Events per replay page (and most per history page).
    pub page_size: u32,
    /// Presence states not renewed for this long expire.
    pub presence_ttl: Duration,
    /// Largest presence state, in bytes of JSON.
    pub max_presence_bytes: usize,
    /// How often events past their retention are dropped.
    pub trim_interval: Duration,
    /// Most subscriptions one connection may hold.
    pub max_subscriptions: usize,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            page_size: 500,
            presence_ttl: Duration::from_secs(30),
            max_presence_bytes: 1024,
            trim_interval: Duration::from_secs(300),
            max_subscriptions: 256,
        }
    }
}

/// An appended event whose transaction has not committed yet: hand it to
/// [`Topics::publish`] after the commit (never before: a rollback would have
/// announced an event that does not exist).
#[must_use = "publish the event once its transaction commits"]
#[derive(Debug)]
pub struct Appended(pub TopicEvent);

struct Inner {
    db: SqlStore,
    kinds: TopicKinds,
    hub: hub::Hub,
    config: TopicsConfig,
}

/// The topics service. Cheap to clone.
#[derive(Clone)]
pub struct Topics {
    inner: Arc<Inner>,
}

impl Topics {
    /// Topics on `db` with the registered `kinds`; starts the housekeeping
    /// (presence expiry, eviction, retention), which ends with the last clone.
    pub fn start(db: SqlStore, kinds: TopicKinds, config: TopicsConfig) -> Topics {
        Topics::start_counted(db, kinds, config, Arc::default())
    }

    /// Like [`Topics::start`], counting into `metrics` (the engine's).
    pub fn start_counted(
        db: SqlStore,
        kinds: TopicKinds,
        config: TopicsConfig,
        metrics: Arc<Metrics>,
    ) -> Topics {
        let inner = Arc::new(Inner {
            hub: hub::Hub::new(db.pool().clone(), metrics),
            db,
            kinds,
            config,
        });
        tokio::spawn(housekeeping(Arc::downgrade(&inner)));
        Topics { inner }
    }

    /// The settings.
    pub fn config(&self) -> &TopicsConfig {
        &self.inner.config
    }

    /// The registered kinds.
    pub fn kinds(&self) -> &TopicKinds {
        &self.inner.kinds
    }

    /// The database.
    pub fn db(&self) -> &SqlStore {
        &self.inner.db
    }

    /// Topics live on this node (someone subscribes).
    pub fn live_count(&self) -> usize {
        self.inner.hub.len()
    }

    /// Parses `topic` and finds its kind.
    pub fn resolve<'a>(&self, topic: &'a str) -> Result<(TopicName<'a>, &TopicKind), TopicError> {
        let name = TopicName::parse(topic)?;
        let kind = self
            .inner
            .kinds
            .get(name.kind)
            .ok_or_else(|| TopicError::UnknownKind(name.kind.to_string()))?;
        Ok((name, kind))
    }

    /// Checks that `who` may follow `topic`; returns its kind.
    pub async fn authorize(&self, who: &Principal, topic: &str) -> Result<&TopicKind, TopicError> {
        let (name, kind) = self.resolve(topic)?;
        kind.access
            .check(who, name)
            .await
            .map_err(TopicError::Refused)?;
        Ok(kind)
    }

    /// Appends an event to `topic` in the caller's transaction. Publish the
    /// result after the commit.
    pub async fn append_in(
        &self,
        conn: &mut AnyConnection,
        topic: &str,
        data: serde_json::Value,
    ) -> Result<Appended, TopicError> {
        self.append_in_with(conn, topic, |_| data).await
    }

    /// Like [`Topics::append_in`], with the event's data made from its sequence
    /// number (a chat message records the number it was created at).
    pub async fn append_in_with(
        &self,
        conn: &mut AnyConnection,
        topic: &str,
        data: impl FnOnce(u64) -> serde_json::Value,
    ) -> Result<Appended, TopicError> {
        self.append_about(conn, topic, None, data).await
    }

    /// Like [`Topics::append_in_with`], for an event that carries the text of
    /// `subject` (a message, a comment): [`Topics::redact_in`] can blank it
    /// later, when that is deleted.
    pub async fn append_about(
        &self,
        conn: &mut AnyConnection,
        topic: &str,
        subject: Option<&str>,
        data: impl FnOnce(u64) -> serde_json::Value,
    ) -> Result<Appended, TopicError> {
        let (name, _) = self.resolve(topic)?;
        let at = now_ms();
        let mut value = serde_json::Value::Null;
        let seq = store::append_in(conn, topic, name.kind, at, subject, |seq| {
            value = data(seq);
            value.to_string()
        })
        .await?;
        Ok(Appended(TopicEvent {
            topic: Arc::from(topic),
            seq,
            at,
            data: Arc::new(value),
        }))
    }

    /// Blanks every `body` in the stored events of `topic` about `subject` and
    /// marks them `redacted`, in the caller's transaction: deleted text must
    /// not stay readable through history or a replay. Returns how many events.
    /// (Clients that were live saw the text; they also get the deletion.)
    pub async fn redact_in(
        &self,
        conn: &mut AnyConnection,
        topic: &str,
        subject: &str,
    ) -> Result<u64, TopicError> {
        Ok(store::redact_in(conn, topic, subject, |v| {
            blank_bodies(v);
            if let serde_json::Value::Object(m) = v {
                m.insert("redacted".into(), serde_json::Value::Bool(true));
            }
        })
        .await?)
    }

    /// Offers committed events to the subscribers on this node and the others.
    pub fn publish(&self, appended: Appended) {
        self.inner.hub.link.publish_event(&appended.0);
        self.inner.hub.publish(appended.0);
    }

    /// Appends an event in a transaction of its own and publishes it.
    pub async fn append(
        &self,
        topic: &str,
        data: serde_json::Value,
    ) -> Result<TopicEvent, TopicError> {
        let mut tx = begin_write(self.inner.db.pool()).await?;
        let appended = self.append_in(&mut tx, topic, data).await?;
        tx.commit().await?;
        let event = appended.0.clone();
        self.publish(appended);
        Ok(event)
    }

    /// Drops every event past its kind's retention now (the housekeeping does
    /// it every `trim_interval`). Returns how many were dropped.
    pub async fn trim_now(&self) -> Result<u64, TopicError> {
        trim_all(&self.inner).await
    }

    /// The oldest kept and the newest sequence numbers of `topic` (`(1, 0)`
    /// when it has no events).
    pub async fn bounds(&self, topic: &str) -> Result<(u64, u64), TopicError> {
        Ok(store::bounds(self.inner.db.pool(), topic).await?)
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        self.inner.hub.metrics()
    }

    pub(crate) fn hub(&self) -> &hub::Hub {
        &self.inner.hub
    }
}

/// Empties every string field named `body`, at any depth.
fn blank_bodies(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "body" && x.is_string() {
                    *x = serde_json::Value::String(String::new());
                } else {
                    blank_bodies(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(blank_bodies),
        _ => {}
    }
}

async fn trim_all(inner: &Inner) -> Result<u64, TopicError> {
    let mut dropped = 0;
    for kind in inner.kinds.iter() {
        if kind.retention != Retention::FOREVER {
            dropped += store::trim(inner.db.pool(), kind.name, kind.retention, now_ms()).await?;
        }
    }
    Ok(dropped)
}

/// How often (in housekeeping ticks of a second) live topics are audited
/// against the store.
const AUDIT_EVERY_TICKS: u64 = 5;

/// Presence expiry and eviction every second, the audit of live topics every
/// five; retention every `trim_interval`.
async fn housekeeping(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_trim = tokio::time::Instant::now();
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.hub.sweep();
        ticks += 1;
        if ticks.is_multiple_of(AUDIT_EVERY_TICKS)
            && let Err(e) = inner.hub.audit().await
        {
            tracing::warn!(error = %e, "topic audit failed");
        }
        if last_trim.elapsed() >= inner.config.trim_interval {
            last_trim = tokio::time::Instant::now();
            match trim_all(&inner).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(dropped = n, "topic events past retention dropped"),
                Err(e) => tracing::warn!(error = %e, "topic retention trim failed"),
            }
        }
    }
}
