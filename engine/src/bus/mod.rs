//! The `Bus`: how what happens on one node reaches the others.
//!
//! Messages travel on channels: one per document (updates and awareness), one
//! per topic (events and presence), and one control channel every node hears
//! (sign-outs, role changes, documents taken out of service). A node subscribes
//! to a document's or topic's channel only while it has it live, so a message
//! reaches only the nodes that need it.
//!
//! Every message names the node it came from, so a node ignores its own. Doc
//! updates and topic events carry the sequence number the store gave them: a
//! receiver that sees a number jump past the one it expected knows it missed
//! something and reads the missing range from the store (the store is the
//! truth; the bus is only the fast path). A bus that lost its connection tells
//! its handler to [`BusHandler::resync`] everything live once it is back.
//!
//! [`LocalBus`] connects engines inside one process (a single node, or several
//! in a test); [`redis::RedisBus`] connects nodes through Redis pub/sub.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use goonline_protocol::native::PresenceEntry;

mod local;
pub mod redis;
pub mod wire;

pub use local::LocalBus;

/// Where a message travels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// One document's updates and awareness.
    Doc(Arc<str>),
    /// One topic's events and presence.
    Topic(Arc<str>),
    /// Heard by every node.
    Control,
}

/// What travels on the bus.
#[derive(Debug, Clone)]
pub enum BusPayload {
    /// A Yjs v1 update, durable in the store under `seq` (doc channel).
    Update {
        /// The document sequence number the store gave it.
        seq: u64,
        /// The update.
        data: Bytes,
    },
    /// An awareness update from the origin's sessions (doc channel).
    Awareness(Bytes),
    /// A node that just opened the document asks the others for the awareness
    /// states of their sessions (doc channel).
    AwarenessQuery,
    /// A topic event, durable in the store under `seq` (topic channel).
    TopicEvent {
        /// Its sequence number in the topic.
        seq: u64,
        /// When it was appended (epoch ms).
        at: i64,
        /// What happened.
        data: Arc<serde_json::Value>,
    },
    /// Presence changes of the origin's subscribers (topic channel). `client`
    /// numbers are the origin node's; receivers make them their own.
    TopicPresence(Vec<PresenceEntry>),
    /// A node that just made the topic live asks the others for the presence
    /// states of their subscribers (topic channel).
    PresenceQuery,
    /// Something every node must act on (control channel).
    Control(Control),
}

/// Cluster-wide actions carried on the control channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// A user's roles changed: their sessions re-check their access.
    AccessChanged {
        /// The user.
        user: String,
    },
    /// Close a user's sessions (all, or those of one sign-in session).
    EndSessions {
        /// The user.
        user: String,
        /// Only the connections of this sign-in session.
        auth_session: Option<String>,
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// Sessions with documents under `prefix` open re-check their access.
    RecheckDocs {
        /// A document name or a name prefix (`biz/b/ws/w`).
        prefix: String,
    },
    /// A document is being moved or deleted: stop serving it.
    Retire {
        /// The document.
        doc: String,
    },
    /// A retired document is back in service.
    Reinstate {
        /// The document.
        doc: String,
    },
}

/// One bus message.
#[derive(Debug, Clone)]
pub struct BusMessage {
    /// The node that produced it.
    pub origin: u64,
    /// Where it travels.
    pub channel: Channel,
    /// What it says.
    pub payload: BusPayload,
    /// When the origin published it (epoch ms), for the lag metric.
    pub sent_at: i64,
}

impl BusMessage {
    /// A message stamped with the current time.
    pub fn new(origin: u64, channel: Channel, payload: BusPayload) -> BusMessage {
        BusMessage {
            origin,
            channel,
            payload,
            sent_at: crate::now_ms(),
        }
    }

    /// A durable document update.
    pub fn update(origin: u64, doc: Arc<str>, seq: u64, data: Bytes) -> BusMessage {
        BusMessage::new(origin, Channel::Doc(doc), BusPayload::Update { seq, data })
    }

    /// An awareness update.
    pub fn awareness(origin: u64, doc: Arc<str>, data: Bytes) -> BusMessage {
        BusMessage::new(origin, Channel::Doc(doc), BusPayload::Awareness(data))
    }
}

/// Receives bus messages for a node.
pub trait BusHandler: Send + Sync + 'static {
    /// This node's id; messages it published are not delivered back to it.
    fn node_id(&self) -> u64;
    /// Handles a message from another node. Must not block.
    fn deliver(&self, msg: &BusMessage);
    /// The bus may have lost messages it cannot name (it was disconnected):
    /// catch every live document and topic up from the store. Must not block.
    fn resync(&self);
}

/// A boxed future, so that [`Bus`] can be used as a trait object.
pub type BusFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Whether the bus can deliver right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusHealth {
    /// Connected (always true for an in-process bus).
    pub connected: bool,
    /// Since when it has been disconnected, if it is.
    pub down_since: Option<Instant>,
}

impl BusHealth {
    /// A bus that cannot fail.
    pub const UP: BusHealth = BusHealth {
        connected: true,
        down_since: None,
    };
}

/// Carries messages between nodes.
pub trait Bus: Send + Sync + 'static {
    /// Publishes a message to the other nodes subscribed to its channel (every
    /// node for the control channel). Never blocks the caller; a message that
    /// cannot be sent is dropped (receivers repair from the store).
    fn publish(&self, msg: BusMessage);
    /// Registers a node's handler. The bus keeps only a weak reference, so a
    /// dropped engine stops receiving.
    fn attach(&self, handler: Weak<dyn BusHandler>);
    /// Starts receiving `channel`. Resolves once messages published from now on
    /// will arrive, or at once if the bus is down (it subscribes when it comes
    /// back, then asks for a resync). Subscriptions are counted: each call is
    /// matched by one [`Bus::unsubscribe`].
    fn subscribe(&self, channel: Channel) -> BusFuture<'_>;
    /// Stops receiving `channel` once every subscriber has unsubscribed.
    fn unsubscribe(&self, channel: Channel);
    /// Whether messages reach other nodes (false for the in-process bus: there
    /// is nobody else, so nothing needs to be published).
    fn is_shared(&self) -> bool;
    /// Connection state, for readiness.
    fn health(&self) -> BusHealth;
}
