//! Opening and watching one connection to Redis: timeouts, the liveness
//! ping, and the backoff between attempts.
//!
//! A pub/sub connection that only receives can sit silently on a half-open
//! TCP connection (the peer vanished without a FIN) for as long as the kernel
//! keeps it, and a node would then miss every message without knowing. So
//! both connections send a PING every [`PING_EVERY`] and give up on the
//! connection when a reply takes longer than [`RESPONSE_TIMEOUT`]: an outage
//! is noticed within about three seconds. (Shorter would risk taking a busy
//! Redis for a dead one, and every reconnect costs a resync from the store.)

use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, RedisResult};

/// How long opening a connection (TCP and handshake) may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long any command may wait for its reply before the connection is
/// considered dead.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an otherwise quiet connection proves it is alive.
pub(super) const PING_EVERY: Duration = Duration::from_secs(1);
/// The first wait before reconnecting.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between attempts: short, since every second down is a
/// second of messages repaired from the store.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Capped exponential backoff between connection attempts.
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(super) fn new() -> Backoff {
        Backoff {
            next: BACKOFF_FIRST,
        }
    }

    /// After a successful connection: the next outage starts fast again.
    pub(super) fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }

    /// How long to wait before the next attempt.
    pub(super) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }
}

/// Logs failed connection attempts: the first of an outage as a warning,
/// the retries quietly, so an outage is visible without flooding the log.
pub(super) struct AttemptLog {
    what: &'static str,
    warned: bool,
}

impl AttemptLog {
    pub(super) fn new(what: &'static str) -> AttemptLog {
        AttemptLog {
            what,
            warned: false,
        }
    }

    pub(super) fn failed(&mut self, error: &::redis::RedisError) {
        if self.warned {
            tracing::debug!(%error, "Redis bus {} still cannot connect", self.what);
        } else {
            tracing::warn!(%error, "Redis bus {} cannot connect; retrying", self.what);
            self.warned = true;
        }
    }

    pub(super) fn connected(&mut self) {
        self.warned = false;
    }
}

/// Opens a multiplexed connection whose every command times out.
pub(super) async fn connect(
    client: &Client,
    config: AsyncConnectionConfig,
) -> RedisResult<MultiplexedConnection> {
    let config = config
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Whether the connection still answers.
pub(super) async fn ping(con: &mut MultiplexedConnection) -> RedisResult<()> {
    ::redis::cmd("PING")
        .query_async::<::redis::Value>(con)
        .await
        .map(|_| ())
}

/// A ping timer that first fires one period from now.
pub(super) fn ping_timer() -> tokio::time::Interval {
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..8).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        b.reset();
        assert_eq!(b.next_delay(), BACKOFF_FIRST);
    }
}
