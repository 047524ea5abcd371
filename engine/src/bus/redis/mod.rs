//! [`RedisBus`]: the [`Bus`] between nodes, on Redis pub/sub.
//!
//! Each node keeps two connections to Redis, each owned by one task:
//! - the `publisher` sends what [`Bus::publish`] queues, in order, on one
//!   connection, because Redis delivers one connection's messages in the order
//!   it sent them, so receivers see each document's updates in sequence;
//! - the `subscriber` holds the SUBSCRIBEs (the control channel always, a
//!   document's or topic's channel while the node has it live) and hands what
//!   Redis pushes to the attached handlers through the `inbox`.
//!
//! Pub/sub is at-most-once: a message published while a node is disconnected
//! is gone for it. That is acceptable because the bus is only the fast path
//! and the store is the truth. A receiver that notices a jump in a sequence
//! number catches up from the store, and after any outage the bus asks every
//! handler to [`resync`](crate::bus::BusHandler::resync). So the bus never
//! blocks or buffers without bound to avoid losing a message: when it cannot
//! send one, it drops and counts it.
//!
//! Starting never waits for Redis (a node may boot while Redis restarts): the
//! tasks connect in the background, with capped exponential backoff, and
//! [`Bus::health`] reports down until both connections are up. Dropping the
//! last handle stops both tasks and closes the connections.
//!
//! The subscriber connection uses RESP3 (Redis 6 or later), in which
//! messages arrive as out-of-band pushes and a subscribed connection still
//! answers PING, so a dead connection is noticed within seconds (see
//! `link`).

use std::sync::Arc;

use ::redis::{Client, IntoConnectionInfo, ProtocolVersion};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Bus, BusFuture, BusHandler, BusHealth, BusMessage, Channel, wire};
use crate::metrics::{Metrics, inc};

mod config;
mod fault;
mod inbox;
mod link;
mod publisher;
mod shared;
mod subscriber;

pub use config::{DEFAULT_PREFIX, RedisBusConfig, RedisBusError};

use fault::FaultHook;
use shared::Shared;
use subscriber::Reconcile;

/// The bus between nodes, through Redis pub/sub. See the module docs.
pub struct RedisBus {
    shared: Arc<Shared>,
    /// To the publisher task.
    queue: mpsc::Sender<BusMessage>,
    /// To the subscriber task.
    requests: mpsc::UnboundedSender<Reconcile>,
    /// Stops both tasks when the bus is dropped.
    cancel: CancellationToken,
}

impl RedisBus {
    /// Starts the bus's tasks on the current Tokio runtime. Fails only on a
    /// bad configuration; Redis itself is connected to in the background.
    pub fn start(
        config: RedisBusConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<RedisBus>, RedisBusError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RedisBusError::NoRuntime)?;
        if config.prefix.is_empty() || config.prefix.chars().any(char::is_whitespace) {
            return Err(RedisBusError::Prefix(config.prefix));
        }
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(RedisBusError::Url)?;
        // Pushed messages (and PING while subscribed) need RESP3, whatever
        // the URL asked for.
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let subscriber_client =
            Client::open(info.clone().set_redis_settings(resp3)).map_err(RedisBusError::Url)?;
        let publisher_client = Client::open(info).map_err(RedisBusError::Url)?;

        let shared = Arc::new(Shared::new(
            config.prefix,
            metrics,
            FaultHook::new(config.drop_every),
        ));
        let cancel = CancellationToken::new();
        let (queue, queue_rx) = mpsc::channel(publisher::QUEUE);
        let (requests, requests_rx) = mpsc::unbounded_channel();
        runtime.spawn(subscriber::run(
            shared.clone(),
            subscriber_client,
            requests_rx,
            cancel.clone(),
        ));
        runtime.spawn(publisher::run(
            shared.clone(),
            publisher_client,
            queue_rx,
            cancel.clone(),
        ));
        Ok(Arc::new(RedisBus {
            shared,
            queue,
            requests,
            cancel,
        }))
    }

    /// Turns the fault hook on (drop every `n`th received document update or
    /// topic event, `Some(n)` with n > 0) or off (`None`), restarting its
    /// count. For tests of gap repair.
    pub fn set_drop_every(&self, every: Option<u32>) {
        self.shared.fault.set(every);
    }

    /// The channel prefix this bus publishes and subscribes under.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Bus for RedisBus {
    fn publish(&self, msg: BusMessage) {
        if !self.shared.publisher_up() || self.queue.try_send(msg).is_err() {
            inc(&self.shared.metrics.bus_publish_dropped);
        }
    }

    fn attach(&self, handler: std::sync::Weak<dyn BusHandler>) {
        self.shared.attach(handler);
    }

    fn subscribe(&self, channel: Channel) -> BusFuture<'_> {
        // Always subscribed while connected.
        if channel == Channel::Control {
            return Box::pin(std::future::ready(()));
        }
        let name = wire::channel_name(&self.shared.prefix, &channel);
        self.shared.want(&name);
        // Even when the channel is already wanted, the request goes to the
        // subscriber task: it resolves after the first subscriber's SUBSCRIBE
        // was confirmed, since requests are handled in order.
        let (done, confirmed) = oneshot::channel();
        let sent = self.requests.send(Reconcile {
            name,
            done: Some(done),
        });
        // Checked after sending, so that a request made while the bus is down
        // is always among those the subscriber task reconciles when it
        // comes back (see `Shared::set_subscriber_ready`).
        if sent.is_err() || !self.shared.subscriber_ready() {
            return Box::pin(std::future::ready(()));
        }
        Box::pin(async move {
            // An error means the connection was lost first: the bus is down,
            // and resubscribes then resyncs when it is back.
            let _ = confirmed.await;
        })
    }

    fn unsubscribe(&self, channel: Channel) {
        if channel == Channel::Control {
            return;
        }
        let name = wire::channel_name(&self.shared.prefix, &channel);
        if self.shared.unwant(&name) {
            let _ = self.requests.send(Reconcile { name, done: None });
        }
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn health(&self) -> BusHealth {
        self.shared.health()
    }
}
