//! What a [`RedisBus`](super::RedisBus) needs to start, and why starting can
//! fail.
//!
//! Only the configuration itself can make starting fail: a Redis that is down
//! at that moment is an outage like any later one (the bus reports it through
//! its health and connects when Redis is back), so a node can boot while Redis
//! restarts.

/// The default channel prefix: every pub/sub channel name starts `goonline:`.
pub const DEFAULT_PREFIX: &str = "goonline";

/// How to reach Redis and name the channels.
#[derive(Debug, Clone)]
pub struct RedisBusConfig {
    /// `redis://[user:password@]host:port[/db]` (or `unix://` for a socket).
    pub url: String,
    /// Starts every channel name, so several clusters (or tests) can share
    /// one Redis without hearing each other.
    pub prefix: String,
    /// Fault injection for tests: drop every Nth received document update or
    /// topic event on purpose, as if the network had lost it. `None` (or 0)
    /// drops nothing. Also settable at runtime with
    /// [`RedisBus::set_drop_every`](super::RedisBus::set_drop_every).
    pub drop_every: Option<u32>,
}

impl RedisBusConfig {
    /// A configuration for `url` with the default prefix and no fault hook.
    pub fn new(url: impl Into<String>) -> RedisBusConfig {
        RedisBusConfig {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_string(),
            drop_every: None,
        }
    }

    /// The same configuration under another channel prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> RedisBusConfig {
        self.prefix = prefix.into();
        self
    }
}

/// Why a [`RedisBus`](super::RedisBus) could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisBusError {
    /// The URL is not a Redis URL this build can connect to.
    #[error("invalid Redis URL: {0}")]
    Url(#[source] ::redis::RedisError),
    /// The prefix is empty or contains whitespace.
    #[error("invalid bus channel prefix `{0}`: it must be non-empty, without whitespace")]
    Prefix(String),
    /// `start` was called outside a Tokio runtime (the bus runs tasks on it).
    #[error("the Redis bus must be started inside a Tokio runtime")]
    NoRuntime,
}
