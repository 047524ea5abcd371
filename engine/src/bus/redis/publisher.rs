//! The publisher connection: one task takes messages from the bounded queue
//! [`RedisBus::publish`](super::RedisBus) fills, and PUBLISHes whatever has
//! queued up in one pipeline.
//!
//! One task on one connection is what keeps order: Redis delivers the
//! messages of one connection in the order it received them, so a receiver
//! sees a document's updates in sequence unless one is lost, which its gap
//! check notices. Publishing never waits for Redis: while the connection is
//! down, or the queue is full, messages are dropped and counted (the bus is
//! the fast path; receivers catch up from the store, which is the truth).

use std::sync::Arc;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, RedisError, RedisResult};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

use super::link::{self, AttemptLog, Backoff};
use super::shared::{Link, Shared};
use crate::bus::{BusMessage, wire};
use crate::metrics::add;

/// Messages waiting to be published; beyond this, publishing drops.
pub(super) const QUEUE: usize = 8192;
/// Messages per pipeline.
const BATCH: usize = 256;

/// Why a connected session ended.
enum Ended {
    Cancelled,
    Lost(RedisError),
}

/// Runs until `cancel` fires.
pub(super) async fn run(
    shared: Arc<Shared>,
    client: Client,
    mut queue: Receiver<BusMessage>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new();
    let mut attempts = AttemptLog::new("publisher");
    let mut connected_before = false;
    loop {
        let opened = tokio::select! {
            _ = cancel.cancelled() => return,
            opened = link::connect(&client, AsyncConnectionConfig::new()) => opened,
        };
        match opened {
            Ok(mut con) => {
                backoff.reset();
                attempts.connected();
                if connected_before {
                    shared.count_reconnect();
                }
                connected_before = true;
                shared.link_up(Link::Publisher);
                let ended = serve(&shared, &mut con, &mut queue, &cancel).await;
                shared.link_down(Link::Publisher);
                // Accepted just before the link went down: they would go out
                // late after the reconnect, behind the resync that covers them.
                let mut stale = 0;
                while queue.try_recv().is_ok() {
                    stale += 1;
                }
                add(&shared.metrics.bus_publish_dropped, stale);
                match ended {
                    Ended::Cancelled => return,
                    Ended::Lost(e) => {
                        tracing::warn!(error = %e, "Redis bus publisher connection lost")
                    }
                }
            }
            Err(e) => attempts.failed(&e),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

/// Publishes until the connection is lost or the bus is dropped.
async fn serve(
    shared: &Shared,
    con: &mut MultiplexedConnection,
    queue: &mut Receiver<BusMessage>,
    cancel: &CancellationToken,
) -> Ended {
    let mut ping = link::ping_timer();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ended::Cancelled,
            n = queue.recv_many(&mut batch, BATCH) => {
                // Every sender gone: the bus handle was dropped.
                if n == 0 {
                    return Ended::Cancelled;
                }
                let sent = send(shared, con, &batch).await;
                let count = batch.len() as u64;
                batch.clear();
                match sent {
                    Ok(()) => add(&shared.metrics.bus_published, count),
                    Err(e) => {
                        add(&shared.metrics.bus_publish_dropped, count);
                        return Ended::Lost(e);
                    }
                }
                // Traffic proves the connection alive.
                ping.reset();
            }
            _ = ping.tick() => {
                if let Err(e) = link::ping(con).await {
                    return Ended::Lost(e);
                }
            }
        }
    }
}

/// PUBLISHes `batch` in one pipeline, in order.
async fn send(
    shared: &Shared,
    con: &mut MultiplexedConnection,
    batch: &[BusMessage],
) -> RedisResult<()> {
    let mut pipe = ::redis::pipe();
    for msg in batch {
        pipe.cmd("PUBLISH")
            .arg(wire::channel_name(&shared.prefix, &msg.channel))
            .arg(wire::encode(msg))
            .ignore();
    }
    pipe.query_async(con).await
}
