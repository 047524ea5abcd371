//! This node's part in a cluster: what it does with messages from the other
//! nodes, and the checks that make up for messages the bus lost.
//!
//! - Document messages go to the live room, if any. One that arrives while
//!   its room is still loading is remembered, and the room catches up from the
//!   store once loaded (the load may have read the store just before that
//!   update was committed).
//! - Topic messages go to the topics service.
//! - Control messages repeat here what another node's engine did there: a
//!   role change, a sign-out, a document moved or deleted.
//! - After the bus reconnects, every live room and topic catches up; and while
//!   other nodes share the bus, an audit compares live rooms with the store's
//!   heads every `bus_audit_interval`, which finds an update whose message was
//!   lost with nothing after it to reveal the hole.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tokio_util::sync::CancellationToken;

use crate::bus::{BusHandler, BusMessage, BusPayload, Channel, Control};
use crate::engine::{Shared, Ticker};
use crate::metrics::inc;
use crate::room::Room;

/// How long a name retired at another node's request stays out of service
/// here without a reinstatement: far longer than a move or delete takes.
pub(crate) const REMOTE_TOMBSTONE: std::time::Duration = std::time::Duration::from_secs(120);

/// A subscription to a channel that is given back when dropped unless
/// disarmed (its owner took it over). Armed only when the bus is shared.
pub(crate) struct SubscriptionGuard<'a> {
    bus: &'a dyn crate::bus::Bus,
    channel: Option<Channel>,
}

impl<'a> SubscriptionGuard<'a> {
    pub(crate) fn new(bus: &'a dyn crate::bus::Bus, channel: Channel) -> Self {
        let channel = bus.is_shared().then_some(channel);
        SubscriptionGuard { bus, channel }
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.channel.is_some()
    }

    pub(crate) fn disarm(&mut self) {
        self.channel = None;
    }
}

impl Drop for SubscriptionGuard<'_> {
    fn drop(&mut self) {
        if let Some(channel) = self.channel.take() {
            self.bus.unsubscribe(channel);
        }
    }
}

/// Receives bus messages for this node.
pub(crate) struct NodeHandler(pub(crate) Weak<Shared>);

impl BusHandler for NodeHandler {
    fn node_id(&self) -> u64 {
        self.0.upgrade().map(|s| s.node_id).unwrap_or(0)
    }

    fn deliver(&self, msg: &BusMessage) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        match &msg.channel {
            Channel::Doc(doc) => deliver_doc(&shared, doc, &msg.payload),
            Channel::Topic(topic) => {
                if let Some(topics) = shared.topics.get() {
                    topics.on_bus(topic, msg.origin, &msg.payload);
                }
            }
            Channel::Control => {
                if let BusPayload::Control(c) = &msg.payload {
                    apply_control(&shared, c);
                }
            }
        }
    }

    fn resync(&self) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        inc(&shared.metrics.bus_resyncs);
        shared
            .metrics
            .bus_connected
            .store(i64::from(shared.bus.health().connected), Ordering::Relaxed);
        if let Some(topics) = shared.topics.get() {
            topics.resync();
        }
        // Control messages lost meanwhile (a role change, a document moved):
        // every signed-in session re-checks its access; the server re-checks
        // sign-ins (a sign-out).
        let users: Vec<String> = shared
            .user_sessions
            .iter()
            .map(|e| e.key().clone())
            .collect();
        for user in users {
            shared.access_changed_here(&user);
        }
        if let Some(hook) = shared.resync_hook.get() {
            hook();
        }
        // Only rooms the store is ahead of catch up (one heads query per 500
        // rooms), not every live room at once.
        tokio::spawn(audit_once(shared));
    }
}

fn deliver_doc(shared: &Shared, doc: &Arc<str>, payload: &BusPayload) {
    let Some(slot) = shared.rooms.get(doc).map(|s| s.clone()) else {
        // Not live here: the store has it when someone opens it.
        return;
    };
    let Some(room) = slot.get().cloned() else {
        shared.missed_while_loading.insert(doc.clone(), ());
        return;
    };
    match payload {
        BusPayload::Update { seq, data } => room.apply_remote_update(*seq, data),
        BusPayload::Awareness(data) => room.apply_remote_awareness(data),
        BusPayload::AwarenessQuery => room.answer_awareness_query(),
        _ => {}
    }
}

fn apply_control(shared: &Shared, control: &Control) {
    match control {
        Control::AccessChanged { user } => shared.access_changed_here(user),
        Control::EndSessions {
            user,
            auth_session,
            code,
            reason,
        } => {
            shared.end_user_sessions_here(user, auth_session.as_deref(), *code, reason);
        }
        Control::RecheckDocs { prefix } => shared.recheck_docs_here(prefix),
        Control::Retire { doc } => {
            shared.retire_here(doc, Some(std::time::Instant::now() + REMOTE_TOMBSTONE))
        }
        Control::Reinstate { doc } => shared.reinstate_here(doc),
    }
}

/// Called once for each room just loaded and registered: catch up if a
/// message was missed while loading, and ask the other nodes for their
/// sessions' awareness states.
pub(crate) fn room_loaded(shared: &Shared, room: &Arc<Room>) {
    if shared.missed_while_loading.remove(&room.name).is_some() {
        room.resync();
    }
    room.query_awareness();
}

fn live_rooms(shared: &Shared) -> Vec<Arc<Room>> {
    shared
        .rooms
        .iter()
        .filter_map(|e| e.value().get().cloned())
        .collect()
}

impl Shared {
    /// Tells the other nodes to do `control` too.
    pub(crate) fn publish_control(&self, control: Control) {
        if self.bus.is_shared() {
            self.bus.publish(BusMessage::new(
                self.node_id,
                Channel::Control,
                BusPayload::Control(control),
            ));
        }
    }

    /// `user`'s sessions on this node re-check their access.
    pub(crate) fn access_changed_here(&self, user: &str) {
        if let Some(sessions) = self.user_sessions.get(user) {
            for (_, _, kill) in sessions.iter() {
                if let Some(k) = kill.upgrade() {
                    k.request_recheck();
                }
            }
        }
    }

    /// Closes `user`'s sessions on this node; returns how many.
    pub(crate) fn end_user_sessions_here(
        &self,
        user: &str,
        auth_session: Option<&str>,
        code: u16,
        reason: &str,
    ) -> usize {
        let mut n = 0;
        if let Some(sessions) = self.user_sessions.get(user) {
            for (_, s, kill) in sessions.iter() {
                if auth_session.is_none_or(|a| a == s)
                    && let Some(k) = kill.upgrade()
                {
                    k.kill(code, reason);
                    n += 1;
                }
            }
        }
        n
    }
}

/// Compares live rooms with the store's heads while other nodes share the
/// bus; a room behind its head catches up.
pub(crate) async fn audit_loop(shared: Weak<Shared>, stop: CancellationToken) {
    let Some(mut ticker) = Ticker::new(shared, stop, |c| c.bus_audit_interval) else {
        return;
    };
    while let Some(sh) = ticker.next().await {
        let health = sh.bus.health();
        sh.metrics
            .bus_connected
            .store(i64::from(health.connected), Ordering::Relaxed);
        if !sh.bus.is_shared() {
            continue;
        }
        audit_once(sh).await;
    }
}

/// Compares every live room with the store's head once; a room behind it
/// catches up.
async fn audit_once(shared: Arc<Shared>) {
    let rooms: std::collections::HashMap<Arc<str>, Arc<Room>> = live_rooms(&shared)
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    if rooms.is_empty() {
        return;
    }
    let names: Vec<Arc<str>> = rooms.keys().cloned().collect();
    let store = shared.store.clone();
    drop(shared);
    match store.heads(&names).await {
        Ok(heads) => {
            for (doc, head) in heads {
                if let Some(room) = rooms.get(doc.as_str()) {
                    room.check_head(head);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "document head audit failed"),
    }
}
