//! Counters, gauges and a latency histogram, rendered in the Prometheus text format.
//!
//! Plain atomics: incrementing one is a single relaxed add on the hot path, and the
//! `/metrics` endpoint renders them on demand. No registry, no labels we don't need.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the store-commit latency histogram buckets.
const COMMIT_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram with fixed buckets.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; COMMIT_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in COMMIT_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in COMMIT_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Everything the engine counts. Shared by reference; the server adds its own
/// transport counters through the same struct.
#[derive(Default)]
pub struct Metrics {
    /// Open connections (all dialects).
    pub connections: AtomicI64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections refused at the connection limit.
    pub connections_refused: AtomicU64,
    /// Rooms (live documents) in memory.
    pub rooms_loaded: AtomicI64,
    /// Room loads that failed (store errors).
    pub room_load_failures: AtomicU64,
    /// Rooms evicted after being idle.
    pub rooms_evicted: AtomicU64,
    /// Document updates accepted from clients.
    pub updates_in: AtomicU64,
    /// Bytes of those updates.
    pub update_bytes_in: AtomicU64,
    /// Updates refused (invalid, too large, forbidden).
    pub updates_refused: AtomicU64,
    /// Frames sent to clients.
    pub frames_out: AtomicU64,
    /// Bytes of those frames.
    pub bytes_out: AtomicU64,
    /// Frames received from clients.
    pub frames_in: AtomicU64,
    /// Bytes of those frames.
    pub bytes_in: AtomicU64,
    /// Sessions closed because they did not read fast enough.
    pub slow_consumer_closes: AtomicU64,
    /// Protocol errors answered (error frames and protocol closes).
    pub protocol_errors: AtomicU64,
    /// Durability acknowledgements sent.
    pub acks: AtomicU64,
    /// Group commits that failed and were retried.
    pub store_commit_errors: AtomicU64,
    /// Snapshots written by compaction.
    pub snapshots: AtomicU64,
    /// Updates that went out inside another's frame (merged fan-out).
    pub updates_coalesced: AtomicU64,
    /// Awareness changes that went out inside another's frame.
    pub awareness_coalesced: AtomicU64,
    /// Latency of each group commit.
    pub store_commit_seconds: Histogram,
    /// Log entries per group commit (sum; divide by the histogram count).
    pub store_commit_writes: AtomicU64,
    /// Topic subscriptions held on this node (replaying or live).
    pub topic_subscriptions: AtomicI64,
    /// Topic events offered to this node's subscribers after their commit.
    pub topic_events_published: AtomicU64,
    /// Topic events queued to live subscribers (one per subscriber).
    pub topic_events_delivered: AtomicU64,
    /// Topic events sent by replays from the store.
    pub topic_events_replayed: AtomicU64,
    /// Times a topic read back from the store events that were committed but
    /// not (yet) announced.
    pub topic_repairs: AtomicU64,
    /// Webhook deliveries an endpoint accepted (2xx).
    pub webhook_delivered: AtomicU64,
    /// Webhook attempts that failed (non-2xx, timeout, connection error).
    pub webhook_attempts_failed: AtomicU64,
    /// Webhook deliveries given up after their last attempt.
    pub webhook_given_up: AtomicU64,
    /// 1 while the node's bus to the others is connected (always 1 without
    /// Redis), 0 while it is down.
    pub bus_connected: AtomicI64,
    /// Messages published on the bus.
    pub bus_published: AtomicU64,
    /// Messages that could not be published (bus down or queue full): the
    /// receivers repair from the store.
    pub bus_publish_dropped: AtomicU64,
    /// Messages received from other nodes.
    pub bus_received: AtomicU64,
    /// Received messages that did not decode.
    pub bus_decode_errors: AtomicU64,
    /// Times the bus connection was re-established.
    pub bus_reconnects: AtomicU64,
    /// Received messages dropped on purpose by the fault-injection hook.
    pub bus_fault_drops: AtomicU64,
    /// Times to deliver a message from its origin's publish to this node.
    pub bus_lag_seconds: Histogram,
    /// Catch-ups of a live document from the store (a gap in its sequence,
    /// a resync after a bus outage, or the periodic audit).
    pub doc_catchups: AtomicU64,
    /// Updates read from the store by those catch-ups.
    pub doc_catchup_updates: AtomicU64,
    /// Whole-node resyncs after the bus came back.
    pub bus_resyncs: AtomicU64,
    /// Connections refused because the user had too many across the cluster.
    pub user_connections_refused: AtomicU64,
}

/// Adds one to a counter.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self, out: &mut String) {
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, c: &AtomicU64| {
            let v = c.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        gauge(
            out,
            "goonline_connections",
            "Open WebSocket connections.",
            self.connections.load(Ordering::Relaxed),
        );
        counter(
            out,
            "goonline_connections_total",
            "Connections accepted.",
            &self.connections_total,
        );
        counter(
            out,
            "goonline_connections_refused_total",
            "Connections refused at the limit.",
            &self.connections_refused,
        );
        gauge(
            out,
            "goonline_rooms_loaded",
            "Documents live in memory.",
            self.rooms_loaded.load(Ordering::Relaxed),
        );
        counter(
            out,
            "goonline_room_load_failures_total",
            "Document loads that failed.",
            &self.room_load_failures,
        );
        counter(
            out,
            "goonline_rooms_evicted_total",
            "Idle documents evicted.",
            &self.rooms_evicted,
        );
        counter(
            out,
            "goonline_updates_in_total",
            "Document updates accepted.",
            &self.updates_in,
        );
        counter(
            out,
            "goonline_update_bytes_in_total",
            "Bytes of document updates accepted.",
            &self.update_bytes_in,
        );
        counter(
            out,
            "goonline_updates_refused_total",
            "Document updates refused.",
            &self.updates_refused,
        );
        counter(
            out,
            "goonline_frames_in_total",
            "Frames received.",
            &self.frames_in,
        );
        counter(
            out,
            "goonline_bytes_in_total",
            "Bytes received in frames.",
            &self.bytes_in,
        );
        counter(
            out,
            "goonline_frames_out_total",
            "Frames sent.",
            &self.frames_out,
        );
        counter(
            out,
            "goonline_bytes_out_total",
            "Bytes sent in frames.",
            &self.bytes_out,
        );
        counter(
            out,
            "goonline_slow_consumer_closes_total",
            "Sessions closed for not reading fast enough.",
            &self.slow_consumer_closes,
        );
        counter(
            out,
            "goonline_protocol_errors_total",
            "Protocol errors answered.",
            &self.protocol_errors,
        );
        counter(
            out,
            "goonline_acks_total",
            "Durability acknowledgements sent.",
            &self.acks,
        );
        counter(
            out,
            "goonline_store_commit_errors_total",
            "Group commits that failed and were retried.",
            &self.store_commit_errors,
        );
        counter(
            out,
            "goonline_snapshots_total",
            "Snapshots written by compaction.",
            &self.snapshots,
        );
        counter(
            out,
            "goonline_updates_coalesced_total",
            "Updates fanned out merged into another update's frame.",
            &self.updates_coalesced,
        );
        counter(
            out,
            "goonline_awareness_coalesced_total",
            "Awareness changes fanned out merged into another's frame.",
            &self.awareness_coalesced,
        );
        counter(
            out,
            "goonline_store_commit_writes_total",
            "Log writes committed.",
            &self.store_commit_writes,
        );
        self.store_commit_seconds.render(
            "goonline_store_commit_seconds",
            "Latency of one group commit.",
            out,
        );
        gauge(
            out,
            "goonline_topic_subscriptions",
            "Topic subscriptions held (replaying or live).",
            self.topic_subscriptions.load(Ordering::Relaxed),
        );
        for (name, help, c) in [
            (
                "goonline_topic_events_published_total",
                "Topic events offered to subscribers after their commit.",
                &self.topic_events_published,
            ),
            (
                "goonline_topic_events_delivered_total",
                "Topic events queued to live subscribers.",
                &self.topic_events_delivered,
            ),
            (
                "goonline_topic_events_replayed_total",
                "Topic events sent by replays from the store.",
                &self.topic_events_replayed,
            ),
            (
                "goonline_topic_repairs_total",
                "Reads of committed topic events that were not announced in time.",
                &self.topic_repairs,
            ),
            (
                "goonline_webhook_deliveries_total",
                "Webhook deliveries an endpoint accepted (2xx).",
                &self.webhook_delivered,
            ),
            (
                "goonline_webhook_attempts_failed_total",
                "Webhook attempts that failed (non-2xx, timeout, connection error).",
                &self.webhook_attempts_failed,
            ),
            (
                "goonline_webhook_given_up_total",
                "Webhook deliveries given up after their last attempt.",
                &self.webhook_given_up,
            ),
            (
                "goonline_bus_published_total",
                "Messages published on the bus to other nodes.",
                &self.bus_published,
            ),
            (
                "goonline_bus_publish_dropped_total",
                "Messages that could not be published (repaired from the store).",
                &self.bus_publish_dropped,
            ),
            (
                "goonline_bus_received_total",
                "Messages received from other nodes.",
                &self.bus_received,
            ),
            (
                "goonline_bus_decode_errors_total",
                "Received bus messages that did not decode.",
                &self.bus_decode_errors,
            ),
            (
                "goonline_bus_reconnects_total",
                "Times the bus connection was re-established.",
                &self.bus_reconnects,
            ),
            (
                "goonline_bus_fault_drops_total",
                "Received bus messages dropped by the fault-injection hook.",
                &self.bus_fault_drops,
            ),
            (
                "goonline_doc_catchups_total",
                "Catch-ups of a live document from the store (gap, resync, audit).",
                &self.doc_catchups,
            ),
            (
                "goonline_doc_catchup_updates_total",
                "Updates read from the store by document catch-ups.",
                &self.doc_catchup_updates,
            ),
            (
                "goonline_bus_resyncs_total",
                "Whole-node catch-ups after the bus came back.",
                &self.bus_resyncs,
            ),
            (
                "goonline_user_connections_refused_total",
                "Connections refused at the per-user limit (cluster-wide).",
                &self.user_connections_refused,
            ),
        ] {
            counter(out, name, help, c);
        }
        gauge(
            out,
            "goonline_bus_connected",
            "1 while the bus to other nodes is connected.",
            self.bus_connected.load(Ordering::Relaxed),
        );
        self.bus_lag_seconds.render(
            "goonline_bus_lag_seconds",
            "Time from a message's publish on its origin node to its arrival here.",
            out,
        );
    }
}
