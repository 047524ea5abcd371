//! Engine settings: limits, compaction bounds and timers, with sane defaults.
//!
//! The server fills this from flags and `GOONLINE_*` variables; tests build it
//! directly. Every field has a default that a fresh start can rely on.

use std::time::Duration;

/// Settings for an [`crate::Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Largest single frame (and so single update) accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Largest document kept, in bytes of encoded state (estimated as the last
    /// snapshot plus the log written since). Updates that would pass it are refused.
    pub max_doc_bytes: usize,
    /// Most documents one connection may have open at once.
    pub max_open_docs: usize,
    /// Most connections the engine accepts at once.
    pub max_connections: usize,
    /// Capacity of each session's outbound queue, in messages. A session whose queue
    /// is full is closed as a slow consumer.
    pub session_queue: usize,
    /// Write a snapshot once this many updates are logged behind the last one.
    pub snapshot_every_updates: u64,
    /// ... or once this many bytes are logged behind the last one.
    pub snapshot_every_bytes: u64,
    /// A room without sessions for this long is flushed and evicted.
    pub room_idle_timeout: Duration,
    /// Awareness states not renewed for this long are removed (y-protocols uses 30 s).
    pub awareness_ttl: Duration,
    /// A room relays awareness at most once per this window, each client's newest
    /// state winning (zero: relay every change as soon as the scheduler allows).
    pub awareness_coalesce: Duration,
    /// How often the housekeeping task sweeps awareness and idle rooms.
    pub sweep_interval: Duration,
    /// Most rooms whose pending writes go into one group-commit transaction
    /// (each room contributes everything it has pending).
    pub max_commit_batch: usize,
    /// Group commits start at most this often, so updates trickling in from many
    /// rooms share a transaction; an isolated update waits for nothing.
    pub commit_interval: Duration,
    /// How long a hole in a live document's sequence (an update from another
    /// node that did not arrive) may last before the room reads it from the
    /// store.
    pub gap_repair_after: Duration,
    /// With other nodes on the bus: how often live documents' heads are
    /// compared with the store, which finds an update whose bus message was
    /// lost with nothing after it to reveal the hole.
    pub bus_audit_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_frame_bytes: 4 * 1024 * 1024,
            max_doc_bytes: 32 * 1024 * 1024,
            max_open_docs: 256,
            max_connections: 19_000,
            session_queue: 1024,
            snapshot_every_updates: 500,
            snapshot_every_bytes: 1024 * 1024,
            room_idle_timeout: Duration::from_secs(30),
            awareness_ttl: Duration::from_secs(30),
            // 20 relays a second: smooth cursors, a bounded cost per reader.
            awareness_coalesce: Duration::from_millis(50),
            sweep_interval: Duration::from_secs(1),
            max_commit_batch: 4096,
            commit_interval: Duration::from_millis(10),
            gap_repair_after: Duration::from_millis(100),
            bus_audit_interval: Duration::from_secs(2),
        }
    }
}
