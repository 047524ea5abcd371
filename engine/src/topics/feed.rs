//! Metric samples pushed to latest-value topics: the facility plugins and the
//! server use for live dashboard tiles (`biz/{id}/metrics/{name}`), and the
//! server's own operational metrics for platform admins (`platform/metrics`),
//! published every few seconds.
//!
//! Samples are appended like any event (so a dashboard that connects later
//! gets the newest one at once), under a latest-value kind: a slow dashboard
//! receives the newest sample, never a backlog.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{OwnerAccess, Retention, TopicError, TopicEvent, TopicKind, TopicKinds, Topics};
use crate::metrics::Metrics;
use crate::sql_store::SqlStore;

/// The kind every metrics topic has.
pub const METRICS_KIND: &str = "metrics";

/// The topic platform admins follow for the server's operational metrics.
pub const PLATFORM_METRICS_TOPIC: &str = "platform/metrics";

/// How long metric samples are kept by default: a day, at most 1,000 per topic.
pub const METRICS_RETENTION: Retention = Retention {
    max_age: Some(Duration::from_secs(86_400)),
    max_events: Some(1000),
};

/// Registers the `metrics` kind (latest-value; the owner rule: members of the
/// business, the user, platform admins).
pub fn register_metrics_kind(kinds: &mut TopicKinds, db: &SqlStore) {
    kinds.register(TopicKind {
        name: METRICS_KIND,
        retention: METRICS_RETENTION,
        latest_value: true,
        access: OwnerAccess::new(db.clone()),
    });
}

impl Topics {
    /// Publishes a metric sample `value` to the latest-value topic `topic`.
    pub async fn publish_sample(
        &self,
        topic: &str,
        value: serde_json::Value,
    ) -> Result<TopicEvent, TopicError> {
        let (_, kind) = self.resolve(topic)?;
        if !kind.latest_value {
            return Err(TopicError::NotLatestValue(kind.name.to_string()));
        }
        self.append(topic, value).await
    }
}

/// Publishes this node's operational metrics to [`PLATFORM_METRICS_TOPIC`]
/// every `every`, until `topics` is dropped: connections, rooms, live topics,
/// and per-second rates of document updates and incoming frames.
pub fn spawn_operational_feed(
    topics: &Topics,
    metrics: Arc<Metrics>,
    node: String,
    every: Duration,
) {
    let weak = Arc::downgrade(&topics.inner);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut last = (Instant::now(), counters(&metrics));
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            let topics = Topics { inner };
            let now = (Instant::now(), counters(&metrics));
            let secs = now.0.duration_since(last.0).as_secs_f64().max(0.001);
            let rate = |i: usize| {
                ((now.1[i].saturating_sub(last.1[i])) as f64 / secs * 10.0).round() / 10.0
            };
            let sample = json!({
                "node": node,
                "connections": metrics.connections.load(Ordering::Relaxed),
                "rooms": metrics.rooms_loaded.load(Ordering::Relaxed),
                "live_topics": topics.live_count(),
                "updates_per_sec": rate(0),
                "frames_in_per_sec": rate(1),
            });
            last = now;
            if let Err(e) = topics.publish_sample(PLATFORM_METRICS_TOPIC, sample).await {
                tracing::debug!(error = %e, "operational metrics sample not published");
            }
        }
    });
}

fn counters(m: &Metrics) -> [u64; 2] {
    [
        m.updates_in.load(Ordering::Relaxed),
        m.frames_in.load(Ordering::Relaxed),
    ]
}
