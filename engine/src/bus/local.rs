//! [`LocalBus`]: delivers synchronously to every other engine in the process.
//!
//! One engine on a `LocalBus` is a single node: nothing is published. Several
//! engines on one `LocalBus` behave like nodes sharing a bus that never drops a
//! message, which is how engine tests exercise the multi-node paths without
//! Redis. Every handler hears every channel; a node ignores what it has not
//! got live.

use std::sync::{Arc, RwLock, Weak};

use super::{Bus, BusFuture, BusHandler, BusHealth, BusMessage, Channel};

/// The in-process bus.
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

    fn subscribe(&self, _channel: Channel) -> BusFuture<'_> {
        Box::pin(std::future::ready(()))
    }

    fn unsubscribe(&self, _channel: Channel) {}

    fn is_shared(&self) -> bool {
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        handlers.iter().filter(|h| h.strong_count() > 0).count() > 1
    }

    fn health(&self) -> BusHealth {
        BusHealth::UP
    }
}
