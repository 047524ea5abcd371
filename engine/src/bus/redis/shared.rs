//! The state the bus handle and its two connection tasks share: attached
//! handlers, wanted subscriptions, the fault hook, and whether each
//! connection is up.
//!
//! The bus is up only while both connections are: a node that can hear but
//! not speak (or the reverse) is not delivering. Whenever the bus comes back
//! up, every handler is told to resync, because whatever was published while
//! it was down (by this node or to it) is gone from pub/sub and only the
//! store still has it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Instant;

use super::fault::FaultHook;
use crate::bus::{BusHandler, BusHealth};
use crate::metrics::{Metrics, inc};

/// One of the bus's two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    /// Receives: SUBSCRIBE and pushed messages.
    Subscriber,
    /// Sends: PUBLISH.
    Publisher,
}

/// Which connections are up, and since when the bus has been down.
struct LinkState {
    subscriber: bool,
    publisher: bool,
    down_since: Option<Instant>,
}

/// Shared by the [`RedisBus`](super::RedisBus) handle and its tasks.
pub(super) struct Shared {
    /// Starts every channel name.
    pub(super) prefix: String,
    pub(super) metrics: Arc<Metrics>,
    pub(super) fault: FaultHook,
    handlers: RwLock<Vec<Weak<dyn BusHandler>>>,
    /// Channel name → how many subscribers want it (the control channel is
    /// not here: it is always wanted).
    wanted: Mutex<HashMap<String, usize>>,
    /// Read on every publish, so kept apart from the lock.
    publisher_up: AtomicBool,
    /// Whether a subscribe sent now will be confirmed by Redis: set by the
    /// subscriber task before it takes the requests made while it was down,
    /// so no request falls between "resolved at once" and "confirmed".
    subscriber_ready: AtomicBool,
    links: Mutex<LinkState>,
}

impl Shared {
    pub(super) fn new(prefix: String, metrics: Arc<Metrics>, fault: FaultHook) -> Shared {
        metrics.bus_connected.store(0, Ordering::Relaxed);
        Shared {
            prefix,
            metrics,
            fault,
            handlers: RwLock::new(Vec::new()),
            wanted: Mutex::new(HashMap::new()),
            publisher_up: AtomicBool::new(false),
            subscriber_ready: AtomicBool::new(false),
            links: Mutex::new(LinkState {
                subscriber: false,
                publisher: false,
                down_since: Some(Instant::now()),
            }),
        }
    }

    pub(super) fn attach(&self, handler: Weak<dyn BusHandler>) {
        let mut handlers = self.handlers.write().unwrap_or_else(|p| p.into_inner());
        handlers.retain(|h| h.strong_count() > 0);
        handlers.push(handler);
    }

    /// The handlers still alive.
    pub(super) fn handlers(&self) -> Vec<Arc<dyn BusHandler>> {
        let handlers = self.handlers.read().unwrap_or_else(|p| p.into_inner());
        handlers.iter().filter_map(Weak::upgrade).collect()
    }

    /// Counts one more subscriber of `name`; true if it is the first.
    pub(super) fn want(&self, name: &str) -> bool {
        let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        let count = wanted.entry(name.to_string()).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Counts one subscriber of `name` fewer; true if it was the last.
    pub(super) fn unwant(&self, name: &str) -> bool {
        let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        match wanted.get_mut(name) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                wanted.remove(name);
                true
            }
            // An unsubscribe without a subscribe: nothing to undo.
            None => false,
        }
    }

    /// Whether anyone subscribes to `name` now.
    pub(super) fn is_wanted(&self, name: &str) -> bool {
        let wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        wanted.contains_key(name)
    }

    /// Every channel name wanted now.
    pub(super) fn wanted_names(&self) -> Vec<String> {
        let wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        wanted.keys().cloned().collect()
    }

    pub(super) fn publisher_up(&self) -> bool {
        self.publisher_up.load(Ordering::Acquire)
    }

    pub(super) fn subscriber_ready(&self) -> bool {
        self.subscriber_ready.load(Ordering::SeqCst)
    }

    /// See [`Shared::subscriber_ready`]; cleared again by
    /// [`Shared::link_down`].
    pub(super) fn set_subscriber_ready(&self) {
        self.subscriber_ready.store(true, Ordering::SeqCst);
    }

    /// Records that `link` is connected (again). When that makes the whole
    /// bus up, every handler is asked to resync.
    pub(super) fn link_up(&self, link: Link) {
        let now_up = {
            let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
            match link {
                Link::Subscriber => links.subscriber = true,
                Link::Publisher => {
                    links.publisher = true;
                    self.publisher_up.store(true, Ordering::Release);
                }
            }
            let up = links.subscriber && links.publisher;
            if up {
                links.down_since = None;
                self.metrics.bus_connected.store(1, Ordering::Relaxed);
            }
            up
        };
        if now_up {
            tracing::info!(prefix = %self.prefix, "Redis bus connected");
            for handler in self.handlers() {
                handler.resync();
            }
        }
    }

    /// Records that `link` lost its connection.
    pub(super) fn link_down(&self, link: Link) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        match link {
            Link::Subscriber => {
                links.subscriber = false;
                self.subscriber_ready.store(false, Ordering::SeqCst);
            }
            Link::Publisher => {
                links.publisher = false;
                self.publisher_up.store(false, Ordering::Release);
            }
        }
        if links.down_since.is_none() {
            links.down_since = Some(Instant::now());
        }
        self.metrics.bus_connected.store(0, Ordering::Relaxed);
    }

    /// A link reconnected after having been connected before.
    pub(super) fn count_reconnect(&self) {
        inc(&self.metrics.bus_reconnects);
    }

    pub(super) fn health(&self) -> BusHealth {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        BusHealth {
            connected: links.subscriber && links.publisher,
            down_since: links.down_since,
        }
    }
}
