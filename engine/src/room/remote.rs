//! What a room hears from other nodes, and how it catches up when it missed
//! something.
//!
//! Updates from other nodes carry the store sequence number they were logged
//! under. The room applies each one at once (Yjs does not need them in order)
//! and records its number; while a number is missing below one it has, there is
//! a hole. A hole that outlives `gap_repair_after` (the missing message was
//! lost, not just late) is filled from the store: one read of everything after
//! the last number the room has contiguously, applied and sent to the room's
//! sessions as one update. The same catch-up runs when the bus reconnects
//! (messages were lost without a trace) and when the periodic audit finds the
//! store's head ahead of the room (the lost update was the last one).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use yrs::{ReadTxn, Transact};

use super::{Room, RoomState};
use crate::bus::{BusMessage, BusPayload, Channel};
use crate::doc_apply;
use crate::metrics::{add, inc};
use crate::outbound::{Broadcast, Outbound};

impl Room {
    /// Applies an update another node made durable under store sequence `seq`
    /// and sends it to this node's sessions; it is not logged again.
    pub(crate) fn apply_remote_update(self: &Arc<Self>, seq: u64, update: &Bytes) {
        let mut st = self.lock();
        if seq <= st.store_seq || st.store_ahead.contains(&seq) {
            // Already here (a catch-up read it first).
            return;
        }
        match doc_apply::apply_update(&st.doc, update) {
            Ok(applied) if applied.changed => {
                let b = Arc::new(Broadcast::new(self.name.clone(), update.clone()));
                for s in &st.sessions {
                    s.send(Outbound::Update(b.clone()));
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(doc = %self.name, seq, error = %e, "remote update refused"),
        }
        // Counted toward the size estimate (and so toward snapshots and the
        // document size limit): the document grew, wherever the edit came from.
        st.log_bytes += update.len() as u64;
        self.note_store_seq(&mut st, seq);
    }

    /// Records that store sequence `seq` is applied; schedules a repair if a
    /// hole is left before it.
    pub(super) fn note_store_seq(self: &Arc<Self>, st: &mut RoomState, seq: u64) {
        if seq <= st.store_seq {
            return;
        }
        st.store_ahead.insert(seq);
        advance(st);
        if !st.store_ahead.is_empty() && !st.repairing {
            self.schedule_repair(st);
        }
    }

    /// Catches up after `gap_repair_after` if a hole is still there then
    /// (late messages fill most holes first).
    fn schedule_repair(self: &Arc<Self>, st: &mut RoomState) {
        st.repairing = true;
        let room = self.clone();
        let wait = self.shared.config.gap_repair_after;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let hole = !room.lock().store_ahead.is_empty();
            if hole {
                room.catch_up().await;
            } else {
                room.lock().repairing = false;
            }
        });
    }

    /// The store's newest sequence number for this document is `head`: if the
    /// room is behind it and not already repairing, catch up.
    pub(crate) fn check_head(self: &Arc<Self>, head: u64) {
        self.start_catch_up(|st| head > st.store_seq);
    }

    /// Starts a catch-up unless one is already scheduled or running.
    pub(crate) fn resync(self: &Arc<Self>) {
        self.start_catch_up(|_| true);
    }

    /// Starts a catch-up now if `needed` says so and none is scheduled or
    /// running.
    fn start_catch_up(self: &Arc<Self>, needed: impl FnOnce(&RoomState) -> bool) {
        let mut st = self.lock();
        if st.repairing || !needed(&st) {
            return;
        }
        st.repairing = true;
        drop(st);
        let room = self.clone();
        tokio::spawn(async move { room.catch_up().await });
    }

    /// Reads what the room lacks from the store and applies it; the caller
    /// has set `repairing`, which this clears. A failed read is logged and
    /// left to the next audit.
    async fn catch_up(self: Arc<Self>) {
        let shared = &self.shared;
        // Never closed, so acquiring cannot fail.
        let _permit = shared.catchups.acquire().await.ok();
        let after = self.lock().store_seq;
        inc(&shared.metrics.doc_catchups);
        let stored = match shared.store.load_since(&self.name, after).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(doc = %self.name, error = %e, "catching up from the store failed");
                self.lock().repairing = false;
                return;
            }
        };
        let read = stored.tail.len() + usize::from(stored.snapshot.is_some());
        add(&shared.metrics.doc_catchup_updates, read as u64);
        let top = stored.last_seq();
        let mut st = self.lock();
        let before = st.doc.transact().state_vector();
        for (seq, data) in stored.snapshot.iter().chain(stored.tail.iter()) {
            if let Err(e) = doc_apply::apply_update(&st.doc, data) {
                tracing::warn!(doc = %self.name, seq, error = %e, "stored update refused in catch-up");
            }
        }
        let diff = st.doc.transact().encode_diff_v1(&before);
        // An update that changes nothing encodes as two zero bytes.
        if diff.len() > 2 {
            let b = Arc::new(Broadcast::new(self.name.clone(), Bytes::from(diff)));
            for s in &st.sessions {
                s.send(Outbound::Update(b.clone()));
            }
        }
        if top > st.store_seq {
            st.store_seq = top;
        }
        advance(&mut st);
        st.repairing = false;
        if !st.store_ahead.is_empty() {
            // Numbers beyond what the store had committed when we read (a
            // commit that landed after the read): look again later.
            self.schedule_repair(&mut st);
        }
    }

    /// Applies awareness from another node (owner 0: it expires by TTL here).
    pub(crate) fn apply_remote_awareness(&self, update: &[u8]) {
        let Ok(entries) = goonline_protocol::awareness::decode_awareness_update(update) else {
            return;
        };
        let mut st = self.lock();
        if let Some(update) = st.awareness.apply(0, &entries, Instant::now()) {
            self.fan_out_awareness_now(&mut st, update);
        }
    }

    /// Tells the other nodes about an awareness change of this node's sessions.
    pub(super) fn publish_awareness(&self, update: Bytes) {
        // Outside the room lock: a bus may deliver synchronously into another
        // node's room, and two rooms must never wait on each other.
        if self.shared.bus.is_shared() {
            self.shared.bus.publish(BusMessage::awareness(
                self.shared.node_id,
                self.name.clone(),
                update,
            ));
        }
    }

    /// Asks the other nodes for their sessions' awareness states (a node that
    /// just opened the document would otherwise see them only when renewed).
    pub(crate) fn query_awareness(&self) {
        if self.shared.bus.is_shared() {
            self.shared.bus.publish(BusMessage::new(
                self.shared.node_id,
                Channel::Doc(self.name.clone()),
                BusPayload::AwarenessQuery,
            ));
        }
    }

    /// Answers another node's query with this node's sessions' states.
    pub(crate) fn answer_awareness_query(&self) {
        let local = self.lock().awareness.local_update();
        if let Some(update) = local {
            self.publish_awareness(Bytes::from(update));
        }
    }
}

/// Moves `store_seq` over every number now contiguous.
fn advance(st: &mut RoomState) {
    while st.store_ahead.first() == Some(&(st.store_seq + 1)) {
        st.store_ahead.pop_first();
        st.store_seq += 1;
    }
    while st.store_ahead.first().is_some_and(|s| *s <= st.store_seq) {
        st.store_ahead.pop_first();
    }
}
