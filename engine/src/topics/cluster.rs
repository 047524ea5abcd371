//! Topics across nodes.
//!
//! Topic events are numbered by the store inside the appending transaction, so
//! every node agrees on their order. After the commit, the appending node
//! offers an event to its own subscribers and publishes it on the topic's bus
//! channel; nodes where the topic is live offer it to theirs. The live topic
//! already waits for late events and reads lost ones back from the store (see
//! `hub/repair.rs`), and the periodic audit finds a lost last event; after a
//! bus outage every live topic is audited at once.
//!
//! Presence travels the same channel: each node publishes its own
//! subscribers' changes, and keeps other nodes' entries under ids of its own
//! until they are cleared or expire (so the presence of a node that died goes
//! within the presence TTL).

use std::sync::{Arc, OnceLock};

use goonline_protocol::native::PresenceEntry;

use super::{TopicEvent, Topics};
use crate::bus::{Bus, BusMessage, BusPayload, Channel};
use crate::metrics::inc;

/// The bus, once the engine has attached it.
struct BusLink {
    bus: Arc<dyn Bus>,
    node: u64,
}

/// Shared by the hub and its live topics; empty until the engine attaches
/// the bus (a topics service used on its own stays on one node).
#[derive(Clone, Default)]
pub(crate) struct SharedLink(Arc<OnceLock<BusLink>>);

impl SharedLink {
    fn shared(&self) -> Option<&BusLink> {
        self.0.get().filter(|l| l.bus.is_shared())
    }

    fn publish(&self, topic: &Arc<str>, payload: BusPayload) {
        if let Some(l) = self.shared() {
            l.bus.publish(BusMessage::new(
                l.node,
                Channel::Topic(topic.clone()),
                payload,
            ));
        }
    }

    /// Subscribes to `topic`'s channel; returns whether it did (and so must
    /// unsubscribe later).
    pub(crate) async fn subscribe(&self, topic: &Arc<str>) -> bool {
        match self.shared() {
            Some(l) => {
                l.bus.subscribe(Channel::Topic(topic.clone())).await;
                true
            }
            None => false,
        }
    }

    pub(crate) fn unsubscribe(&self, topic: &Arc<str>) {
        if let Some(l) = self.0.get() {
            l.bus.unsubscribe(Channel::Topic(topic.clone()));
        }
    }

    pub(crate) fn publish_presence(&self, topic: &Arc<str>, entries: Vec<PresenceEntry>) {
        self.publish(topic, BusPayload::TopicPresence(entries));
    }

    pub(crate) fn query_presence(&self, topic: &Arc<str>) {
        self.publish(topic, BusPayload::PresenceQuery);
    }

    pub(crate) fn publish_event(&self, event: &TopicEvent) {
        self.publish(
            &event.topic,
            BusPayload::TopicEvent {
                seq: event.seq,
                at: event.at,
                data: event.data.clone(),
            },
        );
    }
}

impl Topics {
    /// Connects the service to the engine's bus (once; later calls are
    /// ignored). Done by [`crate::Engine::set_topics`].
    pub(crate) fn attach_bus(&self, bus: Arc<dyn Bus>, node: u64) {
        let _ = self.hub().link.0.set(BusLink { bus, node });
    }

    /// Handles a message another node published on `topic`'s channel.
    pub(crate) fn on_bus(&self, topic: &Arc<str>, origin: u64, payload: &BusPayload) {
        match payload {
            BusPayload::TopicEvent { seq, at, data } => self.hub().publish(TopicEvent {
                topic: topic.clone(),
                seq: *seq,
                at: *at,
                data: data.clone(),
            }),
            BusPayload::TopicPresence(entries) => {
                if let Some(live) = self.hub().live(topic) {
                    live.apply_remote_presence(origin, entries, self.config().presence_ttl);
                }
            }
            BusPayload::PresenceQuery => {
                if let Some(live) = self.hub().live(topic) {
                    let mine = live.local_presence();
                    if !mine.is_empty() {
                        self.hub().link.publish_presence(topic, mine);
                    }
                }
            }
            _ => {}
        }
    }

    /// The bus was down: events may have been lost without a trace, so every
    /// live topic is compared with the store now.
    pub(crate) fn resync(&self) {
        let topics = self.clone();
        tokio::spawn(async move {
            inc(&topics.metrics().topic_repairs);
            if let Err(e) = topics.hub().audit().await {
                tracing::warn!(error = %e, "topic catch-up after a bus outage failed");
            }
        });
    }
}
