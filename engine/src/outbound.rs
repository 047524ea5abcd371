//! What the engine sends to a session, and how a session is told to go away.
//!
//! Every session has one bounded queue of [`Outbound`] messages, drained by its
//! transport adapter. Messages that many sessions receive (an update, an awareness
//! change) are one shared [`Broadcast`], so fan-out clones a pointer, and each
//! dialect's wire frame is encoded once per broadcast, not once per recipient.
//! When a queue is full the session is killed through its [`KillSwitch`] with the
//! slow-consumer close code: nothing is ever skipped silently.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use goonline_protocol::codes::close;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, inc};

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
}

/// Tells a session's transport to close, with a code and a reason. Set once; the
/// first reason wins.
#[derive(Debug, Default)]
pub struct KillSwitch {
    token: CancellationToken,
    reason: OnceLock<(u16, String)>,
}

impl KillSwitch {
    /// Asks the transport to close with `code` and `reason`.
    pub fn kill(&self, code: u16, reason: impl Into<String>) {
        let _ = self.reason.set((code, reason.into()));
        self.token.cancel();
    }

    /// Waits until the session is killed; returns the close code and reason.
    pub async fn killed(&self) -> (u16, String) {
        self.token.cancelled().await;
        self.reason
            .get()
            .cloned()
            .unwrap_or((close::INTERNAL_ERROR, String::new()))
    }

    /// Whether the session has been killed.
    pub fn is_killed(&self) -> bool {
        self.token.is_cancelled()
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
    tx: mpsc::Sender<Delivery>,
    kill: Arc<KillSwitch>,
    metrics: Arc<Metrics>,
    slow: Arc<AtomicBool>,
}

impl SessionTx {
    pub(crate) fn new(
        id: u64,
        tx: mpsc::Sender<Delivery>,
        kill: Arc<KillSwitch>,
        metrics: Arc<Metrics>,
    ) -> Self {
        SessionTx {
            id,
            tx,
            kill,
            metrics,
            slow: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same queue under another membership id.
    pub(crate) fn for_member(&self, id: u64) -> SessionTx {
        SessionTx { id, ..self.clone() }
    }

    /// Queues `msg`. A full queue kills the session as a slow consumer (once);
    /// returns whether the message was queued.
    pub fn send(&self, msg: Outbound) -> bool {
        match self.tx.try_send(Delivery {
            member: self.id,
            msg,
        }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.slow.swap(true, Ordering::Relaxed) {
                    inc(&self.metrics.slow_consumer_closes);
                    self.kill.kill(
                        close::SLOW_CONSUMER,
                        "slow consumer: outbound queue full; reconnect to re-sync",
                    );
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
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
