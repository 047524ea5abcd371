//! What the engine sends to a session, and how a session is told to go away.
//!
//! Every session has one bounded queue of [`Outbound`] messages (see [`queue`]),
//! drained by its transport adapter. Messages that many sessions receive (an update,
//! an awareness change) are one shared [`Broadcast`], so fan-out clones a pointer,
//! and each dialect's wire frame is encoded once per broadcast, not once per
//! recipient. When a queue is full the session is killed through its [`KillSwitch`]
//! with the slow-consumer close code: nothing is ever skipped silently.

pub mod queue;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use goonline_protocol::codes::close;
use tokio::sync::Notify;

use crate::metrics::{Metrics, inc};
use crate::topics::{LatestSlot, PresenceBroadcast, TopicBroadcast};

pub use queue::{Receiver, TryRecvError};

/// A message shared by every session it is sent to.
#[derive(Debug)]
pub struct Broadcast {
    /// The document it belongs to.
    pub doc: Arc<str>,
    /// For updates, the Yjs v1 update; for awareness, the awareness update bytes.
    pub payload: Bytes,
    /// Wire frames already encoded for this broadcast, one slot per encoding.
    frames: [OnceLock<Bytes>; FRAME_SLOTS],
}

/// Number of per-dialect frame encodings a [`Broadcast`] caches.
pub const FRAME_SLOTS: usize = 3;

impl Broadcast {
    /// A new broadcast of `payload` in `doc`.
    pub fn new(doc: Arc<str>, payload: Bytes) -> Broadcast {
        Broadcast {
            doc,
            payload,
            frames: Default::default(),
        }
    }

    /// The wire frame for encoding `slot` (< [`FRAME_SLOTS`]), encoded by `encode`
    /// the first time any session asks for it.
    pub fn frame(&self, slot: usize, encode: impl FnOnce(&Broadcast) -> Vec<u8>) -> Bytes {
        match self.frames.get(slot) {
            Some(cell) => cell.get_or_init(|| Bytes::from(encode(self))).clone(),
            None => Bytes::from(encode(self)),
        }
    }
}

/// One message for a session's transport to send.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A y-protocols sync message for this session only (step 1 or step 2), already
    /// encoded as the y-protocols sync message bytes.
    Sync {
        /// Document name.
        doc: Arc<str>,
        /// The sync message bytes.
        data: Bytes,
    },
    /// An update made by someone else; the payload is the Yjs v1 update.
    Update(Arc<Broadcast>),
    /// An awareness change; the payload is the awareness update bytes.
    Awareness(Arc<Broadcast>),
    /// An update this session sent is durable (or was already contained in the
    /// document). `update` is the broadcast of that update if it changed the document
    /// (y-websocket clients get it echoed as their acknowledgement).
    Ack {
        /// Document name.
        doc: Arc<str>,
        /// The id the client attached, if any.
        id: Option<u64>,
        /// The update, if it changed the document.
        update: Option<Arc<Broadcast>>,
    },
    /// A live event of a subscribed topic.
    TopicEvent(Arc<TopicBroadcast>),
    /// The newest value of a latest-value topic (taken when sent; empty if a
    /// newer one already went out).
    TopicLatest(Arc<LatestSlot>),
    /// Events `from..=to` of a live topic are no longer kept.
    TopicGap {
        /// The topic.
        topic: Arc<str>,
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// Presence in a subscribed topic changed.
    TopicPresence(Arc<PresenceBroadcast>),
}

/// Tells a session's transport to close, with a code and a reason. Set once; the
/// first reason wins.
///
/// A `Notify` rather than a `CancellationToken`: every connection has one, and a
/// token allocates a tree node of its own (~130 bytes per connection).
#[derive(Debug, Default)]
pub struct KillSwitch {
    reason: OnceLock<(u16, String)>,
    notify: Notify,
    /// Fired when the user's access changed and open documents must be re-checked
    /// (one stored permit: a request while the transport is busy is not lost).
    recheck: Notify,
}

impl KillSwitch {
    /// Asks the transport to close with `code` and `reason`.
    pub fn kill(&self, code: u16, reason: impl Into<String>) {
        if self.reason.set((code, reason.into())).is_ok() {
            self.notify.notify_waiters();
        }
    }

    /// Waits until the session is killed; returns the close code and reason.
    pub async fn killed(&self) -> (u16, String) {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a kill between the check and the
            // await still wakes this waiter.
            notified.as_mut().enable();
            if let Some(reason) = self.reason.get() {
                return reason.clone();
            }
            notified.await;
        }
    }

    /// Asks the transport to re-check the session's access to its documents.
    pub fn request_recheck(&self) {
        self.recheck.notify_one();
    }

    /// Waits for a re-check request.
    pub async fn recheck_requested(&self) {
        self.recheck.notified().await;
    }

    /// Whether the session has been killed.
    pub fn is_killed(&self) -> bool {
        self.reason.get().is_some()
    }
}

/// One message on a session's queue, tagged with the membership it is for.
///
/// A connection may hold the same document more than once (a Hocuspocus socket
/// shared by two providers of one document, each with its own address); the
/// member id tells the transport which of them a message belongs to.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The membership (see [`crate::Session::open_as`]) this message is for.
    pub member: u64,
    /// The message.
    pub msg: Outbound,
}

/// The engine's handle on one membership's share of a session's outbound queue.
#[derive(Clone)]
pub struct SessionTx {
    /// Membership id: unique per (session, opened document) pair. Rooms use it to
    /// skip the sender in broadcasts and to own awareness states.
    pub id: u64,
    tx: queue::Sender,
    kill: Arc<KillSwitch>,
    metrics: Arc<Metrics>,
}

impl SessionTx {
    /// A new session queue of `capacity` messages, sending as membership `id`.
    pub(crate) fn channel(
        id: u64,
        capacity: usize,
        kill: Arc<KillSwitch>,
        metrics: Arc<Metrics>,
    ) -> (SessionTx, Receiver) {
        let (tx, rx) = queue::queue(capacity);
        (
            SessionTx {
                id,
                tx,
                kill,
                metrics,
            },
            rx,
        )
    }

    /// The same queue under another membership id.
    pub(crate) fn for_member(&self, id: u64) -> SessionTx {
        SessionTx { id, ..self.clone() }
    }

    /// Queues `msg`. A full queue kills the session as a slow consumer (once);
    /// returns whether the message was queued.
    pub fn send(&self, msg: Outbound) -> bool {
        match self.tx.push(Delivery {
            member: self.id,
            msg,
        }) {
            queue::Pushed::Queued => true,
            queue::Pushed::Full { first } => {
                if first {
                    inc(&self.metrics.slow_consumer_closes);
                    self.kill.kill(
                        close::SLOW_CONSUMER,
                        "slow consumer: outbound queue full; reconnect to re-sync",
                    );
                }
                false
            }
            queue::Pushed::Closed => false,
        }
    }

    /// The session's kill switch.
    pub fn kill_switch(&self) -> &Arc<KillSwitch> {
        &self.kill
    }
}

impl std::fmt::Debug for SessionTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTx").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kill_wakes_waiters_before_and_after_and_the_first_reason_wins() {
        let switch = Arc::new(KillSwitch::default());
        assert!(!switch.is_killed());
        let waiter = tokio::spawn({
            let switch = switch.clone();
            async move { switch.killed().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        switch.kill(close::SLOW_CONSUMER, "first");
        switch.kill(close::INTERNAL_ERROR, "second");
        let woken = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("waiter woken")
            .expect("waiter task");
        assert_eq!(woken, (close::SLOW_CONSUMER, "first".to_string()));
        assert!(switch.is_killed());
        // Waiting after the kill returns at once.
        assert_eq!(switch.killed().await.1, "first");
    }
}
