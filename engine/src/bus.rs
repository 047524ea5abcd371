//! The `Bus`: how updates and awareness made on one node reach the others.
//!
//! Every message names the node it came from, so a node ignores its own. Updates
//! carry the per-document sequence number under which the origin logged them: a
//! receiver that sees a number jump past the one it expected knows it missed
//! something and reads the missing range from the store (the store is the truth;
//! the bus is only the fast path). This crate ships [`LocalBus`], which connects
//! engines inside one process (a single node, or several in a test); the Redis bus
//! arrives with multi-node support.

use std::sync::{Arc, RwLock, Weak};

use bytes::Bytes;

/// What travels on the bus.
#[derive(Debug, Clone)]
pub enum BusPayload {
    /// A durable-on-origin Yjs v1 update, with its sequence number.
    Update {
        /// The document sequence number the origin logged it under.
        seq: u64,
        /// The update.
        data: Bytes,
    },
    /// An awareness update.
    Awareness(Bytes),
}

/// One bus message.
#[derive(Debug, Clone)]
pub struct BusMessage {
    /// The node that produced it.
    pub origin: u64,
    /// The document it concerns.
    pub doc: Arc<str>,
    /// The payload.
    pub payload: BusPayload,
}

impl BusMessage {
    /// An update message.
    pub fn update(origin: u64, doc: Arc<str>, seq: u64, data: Bytes) -> BusMessage {
        BusMessage {
            origin,
            doc,
            payload: BusPayload::Update { seq, data },
        }
    }

    /// An awareness message.
    pub fn awareness(origin: u64, doc: Arc<str>, data: Bytes) -> BusMessage {
        BusMessage {
            origin,
            doc,
            payload: BusPayload::Awareness(data),
        }
    }
}

/// Receives bus messages for a node.
pub trait BusHandler: Send + Sync + 'static {
    /// This node's id; messages it published are not delivered back to it.
    fn node_id(&self) -> u64;
    /// Handles a message from another node. Must not block.
    fn deliver(&self, msg: &BusMessage);
}

/// Carries messages between nodes.
pub trait Bus: Send + Sync + 'static {
    /// Publishes a message to every other node. Never blocks the caller.
    fn publish(&self, msg: BusMessage);
    /// Registers a node's handler. The bus keeps only a weak reference, so a
    /// dropped engine stops receiving.
    fn attach(&self, handler: Weak<dyn BusHandler>);
}

/// The in-process bus: delivers synchronously to every other engine attached to it.
#[derive(Default)]
pub struct LocalBus {
    handlers: RwLock<Vec<Weak<dyn BusHandler>>>,
}

impl LocalBus {
    /// A new bus with no nodes.
    pub fn new() -> Arc<LocalBus> {
        Arc::new(LocalBus::default())
    }
}

impl Bus for LocalBus {
    fn publish(&self, msg: BusMessage) {
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        // The common single-node case: only ourselves attached, nothing to do.
        if handlers.len() <= 1 {
            return;
        }
        for h in handlers.iter().filter_map(Weak::upgrade) {
            if h.node_id() != msg.origin {
                h.deliver(&msg);
            }
        }
    }

    fn attach(&self, handler: Weak<dyn BusHandler>) {
        let mut handlers = self.handlers.write().unwrap_or_else(|p| p.into_inner());
        handlers.retain(|h| h.strong_count() > 0);
        handlers.push(handler);
    }
}
