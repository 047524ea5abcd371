//! A room: one live Yrs document, its awareness, and the sessions that have it open.
//!
//! All mutation happens under the room's mutex, which is never held across an
//! `.await`: apply, sequence, queueing for the fan-out and for the log are one short
//! critical section; fan-outs take the same lock and send in sequence order, so every
//! session sees updates in the order they were sequenced, and the log's order equals
//! the broadcast order. When fan-outs happen is decided in [`fan_out`]. Durability
//! acknowledgements wait in `acks` until the group-commit writer reports the sequence
//! they need as committed.
//!
//! Two numberings meet here. The room's own sequence (`last_seq`,
//! `durable_seq`) counts the updates this node accepted, for acknowledgements.
//! The store's sequence numbers every update of the document across all nodes
//! and is given at commit; the room tracks how far it has everything
//! (`store_seq`), which is what a snapshot may claim to cover and what tells it
//! an update from another node went missing (see [`remote`]).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use goonline_protocol::awareness::AwarenessEntry;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact};

use crate::bus::{BusMessage, Channel};
use crate::coalesce::Outbox;
use crate::doc_apply;
use crate::engine::Shared;
use crate::error::EngineError;
use crate::metrics::{add, inc};
use crate::outbound::{Broadcast, Outbound, SessionTx};
use crate::store::{LogWrite, StoreError, StoredDoc};

mod edits;
mod fan_out;
mod remote;
mod service;
mod snapshot;

/// An acknowledgement waiting for its update to be committed.
struct PendingAck {
    /// Committed sequence needed before the ack may go out.
    target: u64,
    to: SessionTx,
    id: Option<u64>,
    update: Option<Arc<Broadcast>>,
}

struct RoomState {
    doc: Doc,
    sessions: Vec<SessionTx>,
    awareness: crate::awareness::AwarenessTable,
    /// Highest room sequence number assigned to an update accepted here.
    last_seq: u64,
    /// Highest room sequence number known to be committed.
    durable_seq: u64,
    /// Every store sequence number up to this one is applied to `doc`.
    store_seq: u64,
    /// Store sequence numbers applied beyond `store_seq` (a hole before them).
    store_ahead: BTreeSet<u64>,
    /// Whether a repair of a hole is scheduled or running.
    repairing: bool,
    /// A snapshot is to go with the next writes (see `snapshot.rs`).
    snapshot_due: bool,
    /// Another node moved the document while this room's updates were in
    /// flight and they were dropped: never back in service (see
    /// `service.rs`).
    dead: bool,
    /// Writes not yet handed to the group-commit writer.
    pending: Vec<LogWrite>,
    /// The edits the appends in `pending` (and those with the writer) hold.
    edits: edits::EditQueue,
    /// Whether this room is in the writer's queue.
    queued: bool,
    acks: VecDeque<PendingAck>,
    /// Updates and bytes logged since the last snapshot (pending ones included).
    log_updates: u64,
    log_bytes: u64,
    /// Size of the last snapshot: with `log_bytes`, the doc-size estimate.
    snapshot_bytes: u64,
    /// When the last session left (None while sessions are present).
    idle_since: Option<Instant>,
    /// Set when the room is removed from the registry; joins must retry.
    evicted: bool,
    /// Set when the document moved or was deleted: every write is refused
    /// while its sessions re-check their access.
    retired: bool,
    /// Callers without a session (a REST write, a version) keeping the room
    /// from eviction while they use it.
    holds: usize,
    /// Updates and awareness waiting for the coalesced fan-out.
    outbox: Outbox,
}

/// A live document.
pub struct Room {
    /// The document's name.
    pub name: Arc<str>,
    shared: Arc<Shared>,
    state: Mutex<RoomState>,
    /// Set until the first opener after the load has run the cluster's
    /// just-loaded steps (see `cluster::room_loaded`).
    fresh: AtomicBool,
    /// Whether the room holds a bus subscription to its document's channel,
    /// given back when the room is dropped.
    subscribed: bool,
}

impl Drop for Room {
    fn drop(&mut self) {
        if self.subscribed {
            self.shared.bus.unsubscribe(Channel::Doc(self.name.clone()));
        }
    }
}

impl Room {
    /// Builds a room from what the store holds. Stored data that does not decode is
    /// an error: serving an empty document instead would later overwrite the real one.
    pub(crate) fn from_stored(
        name: Arc<str>,
        stored: StoredDoc,
        shared: Arc<Shared>,
        subscribed: bool,
    ) -> Result<Room, StoreError> {
        let doc = Doc::new();
        let last_seq = stored.last_seq();
        let mut log_bytes = 0u64;
        let snapshot_bytes = stored
            .snapshot
            .as_ref()
            .map(|(_, b)| b.len() as u64)
            .unwrap_or(0);
        doc_apply::apply_stored(&doc, stored.snapshot.iter().chain(stored.tail.iter()))
            .map_err(|(seq, e)| StoreError::Corrupt(format!("doc `{name}` seq {seq}: {e}")))?;
        // Stored roots are untyped: type them, so their changes are reported.
        doc_apply::type_stored_roots(&doc);
        for (_, b) in &stored.tail {
            log_bytes += b.len() as u64;
        }
        Ok(Room {
            name,
            shared,
            state: Mutex::new(RoomState {
                doc,
                sessions: Vec::new(),
                awareness: Default::default(),
                last_seq,
                durable_seq: last_seq,
                store_seq: last_seq,
                store_ahead: BTreeSet::new(),
                repairing: false,
                snapshot_due: false,
                dead: false,
                pending: Vec::new(),
                edits: edits::EditQueue::default(),
                queued: false,
                acks: VecDeque::new(),
                log_updates: stored.tail.len() as u64,
                log_bytes,
                snapshot_bytes,
                idle_since: Some(Instant::now()),
                evicted: false,
                retired: false,
                holds: 0,
                outbox: Outbox::default(),
            }),
            fresh: AtomicBool::new(true),
            subscribed,
        })
    }

    /// True for the first caller only.
    pub(crate) fn take_fresh(&self) -> bool {
        self.fresh.swap(false, Ordering::AcqRel)
    }

    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock is caught around Yrs calls; if one got
        // through anyway, the state is still the best we have.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a session and queues its greeting: the server's sync step 1 and the
    /// current awareness. Both are queued under the room lock, so no broadcast can
    /// overtake them. Returns `false` if the room was evicted meanwhile (the caller
    /// loads it again).
    pub(crate) fn join(&self, tx: SessionTx) -> bool {
        let mut st = self.lock();
        if st.evicted {
            return false;
        }
        let sv = st.doc.transact().state_vector();
        let mut step1 = Vec::new();
        goonline_protocol::sync::encode_step1(
            &yrs::updates::encoder::Encode::encode_v1(&sv),
            &mut step1,
        );
        tx.send(Outbound::Sync {
            doc: self.name.clone(),
            data: Bytes::from(step1),
        });
        if let Some(aw) = st.awareness.full_update() {
            tx.send(Outbound::Awareness(Arc::new(Broadcast::new(
                self.name.clone(),
                Bytes::from(aw),
            ))));
        }
        st.sessions.push(tx);
        st.idle_since = None;
        true
    }

    /// Removes a session and the awareness states it published.
    pub(crate) fn leave(&self, session: u64) {
        let mut st = self.lock();
        st.sessions.retain(|s| s.id != session);
        st.acks.retain(|a| a.to.id != session);
        let removal = st.awareness.remove_owner(session, Instant::now());
        if let Some(removal) = &removal {
            self.fan_out_awareness_now(&mut st, removal.clone());
        }
        if st.sessions.is_empty() && st.holds == 0 {
            st.idle_since = Some(Instant::now());
        }
        drop(st);
        // Other nodes drop the states now instead of when they expire.
        if let Some(removal) = removal {
            self.publish_awareness(Bytes::from(removal));
        }
    }

    /// Answers a client's sync step 1: the step 2 carrying what it lacks.
    pub(crate) fn step2_for(&self, state_vector: &[u8]) -> Result<Bytes, EngineError> {
        crate::update_guard::check_state_vector(state_vector)
            .map_err(|e| EngineError::InvalidUpdate(e.to_string()))?;
        let sv = StateVector::decode_v1(state_vector).map_err(|e| {
            EngineError::InvalidUpdate(format!("state vector does not decode: {e}"))
        })?;
        let st = self.lock();
        let diff = st.doc.transact().encode_diff_v1(&sv);
        let mut out = Vec::with_capacity(diff.len() + 8);
        goonline_protocol::sync::encode_step2(&diff, &mut out);
        Ok(Bytes::from(out))
    }

    /// Applies a client's update: validate, apply, sequence, queue for the
    /// coalesced fan-out to the other sessions, publish on the bus, queue for the
    /// log, report the edit (by `editor`); the sender's ack follows the commit.
    /// Returns the sequence the ack waits for.
    pub(crate) fn apply_client_update(
        self: &Arc<Self>,
        from: &SessionTx,
        update: &[u8],
        ack_id: Option<u64>,
        editor: Option<&str>,
    ) -> Result<u64, EngineError> {
        let cfg = &self.shared.config;
        if update.len() > cfg.max_frame_bytes {
            return Err(EngineError::FrameTooLarge {
                size: update.len(),
                limit: cfg.max_frame_bytes,
            });
        }
        let mut st = self.lock();
        if st.retired {
            return Err(EngineError::Forbidden(format!(
                "document `{}` was moved or deleted; reopen it",
                self.name
            )));
        }
        let projected = (st.snapshot_bytes + st.log_bytes) as usize + update.len();
        if projected > cfg.max_doc_bytes {
            return Err(EngineError::DocTooLarge {
                size: projected,
                limit: cfg.max_doc_bytes,
            });
        }
        let applied = doc_apply::apply_update(&st.doc, update)?;
        let changed = applied.changed;
        let metrics = &self.shared.metrics;
        inc(&metrics.updates_in);
        add(&metrics.update_bytes_in, update.len() as u64);

        let broadcast = if changed {
            let data = Bytes::copy_from_slice(update);
            st.last_seq += 1;
            st.outbox.updates.push((from.id, data.clone()));
            self.schedule_update_fan_out(&mut st);
            st.log_updates += 1;
            st.log_bytes += data.len() as u64;
            // Other nodes hear of it once it is durable (see `on_durable`).
            st.pending.push(LogWrite::Append {
                doc: self.name.clone(),
                data: data.clone(),
            });
            // Reported once durable, under the store's number (see `edits.rs`).
            let note = self.shared.activity.get().map(|_| edits::EditNote {
                user: editor.map(Arc::from),
                roots: applied.roots,
                bytes: update.len() as u64,
                doc_bytes: st.snapshot_bytes + st.log_bytes,
                at: crate::now_ms(),
            });
            st.edits.appended(note);
            self.queue_for_commit(&mut st);
            self.maybe_snapshot(&mut st);
            // The sender's own copy, for dialects that echo an update as its ack.
            Some(Arc::new(Broadcast::new(self.name.clone(), data)))
        } else {
            None
        };

        // Ack once everything sequenced so far is durable: for an update that added
        // nothing, its content is in an earlier, possibly still pending, update.
        let target = st.last_seq;
        let ack = PendingAck {
            target,
            to: from.clone(),
            id: ack_id,
            update: broadcast,
        };
        if ack.target <= st.durable_seq {
            send_ack(&self.name, ack, &self.shared);
        } else {
            st.acks.push_back(ack);
        }
        Ok(target)
    }

    /// Applies an awareness update from a session and relays what was accepted to
    /// every session, the sender included (y-websocket clients rely on the echo as
    /// traffic that keeps the connection alive), coalesced per window.
    pub(crate) fn apply_awareness(self: &Arc<Self>, from: u64, entries: &[AwarenessEntry<'_>]) {
        let mut st = self.lock();
        let Some(update) = st.awareness.apply(from, entries, Instant::now()) else {
            return;
        };
        let update = Bytes::from(update);
        st.outbox.awareness.push(update.to_vec());
        self.schedule_awareness_fan_out(&mut st);
        drop(st);
        self.publish_awareness(update);
    }

    /// The current full awareness state, for a client that asks for it.
    pub(crate) fn awareness_snapshot(&self) -> Option<Bytes> {
        self.lock().awareness.full_update().map(Bytes::from)
    }

    /// Housekeeping: expires stale awareness states, and marks the room evicted
    /// when it has had no sessions for the idle timeout and everything it sequenced
    /// is committed. Returns whether it was evicted (the caller then drops it from
    /// the registry; a concurrent join sees the mark and loads it again).
    pub(crate) fn sweep(&self, now: Instant) -> bool {
        let mut st = self.lock();
        if let Some(removal) = st.awareness.expire(self.shared.config.awareness_ttl, now) {
            self.fan_out_awareness_now(&mut st, removal);
        }
        let idle_long = st
            .idle_since
            .is_some_and(|t| now.duration_since(t) >= self.shared.config.room_idle_timeout);
        let flushed = st.pending.is_empty() && !st.queued && st.durable_seq == st.last_seq;
        if idle_long && st.sessions.is_empty() && st.holds == 0 && flushed {
            st.evicted = true;
        }
        st.evicted
    }

    /// Number of sessions in the room.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// The highest sequence number assigned and the highest committed.
    pub fn seqs(&self) -> (u64, u64) {
        let st = self.lock();
        (st.last_seq, st.durable_seq)
    }

    /// Runs `f` on the live document and the highest sequence number assigned,
    /// under the room's lock (keep it short: every edit waits for it).
    pub fn read<R>(&self, f: impl FnOnce(&Doc, u64) -> R) -> R {
        let st = self.lock();
        f(&st.doc, st.last_seq)
    }

    /// The document's estimated stored size (last snapshot plus the log since).
    pub fn stored_bytes(&self) -> u64 {
        let st = self.lock();
        st.snapshot_bytes + st.log_bytes
    }

    /// The whole document as a Yjs v1 update.
    pub fn encode_state(&self) -> Vec<u8> {
        self.lock()
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    fn queue_for_commit(self: &Arc<Self>, st: &mut RoomState) {
        if !st.queued {
            st.queued = true;
            self.shared.persist.notify(self.clone());
        }
    }

    /// Moves the pending writes into `out` for the writer; returns the highest
    /// sequence they cover.
    pub(crate) fn take_pending(&self, out: &mut Vec<LogWrite>) -> u64 {
        let mut st = self.lock();
        st.queued = false;
        self.push_due_snapshot(&mut st);
        out.append(&mut st.pending);
        st.edits.handed_over();
        st.last_seq
    }

    /// Called by the writer once everything up to room sequence `seq` is
    /// committed, with the store sequence number each of the appends got:
    /// releases the acknowledgements waiting for it, then tells the other
    /// nodes about the updates.
    pub(crate) fn on_durable(self: &Arc<Self>, seq: u64, committed: Vec<(u64, Bytes)>) {
        let mut st = self.lock();
        // Recorded before the acks go out: a client that got its ack and asks
        // who edited finds its edit.
        let edits = st
            .edits
            .committed(&self.name, committed.iter().map(|(n, _)| *n));
        if let Some(activity) = self.shared.activity.get() {
            for edit in edits {
                activity.edited(edit);
            }
        }
        if seq > st.durable_seq {
            st.durable_seq = seq;
        }
        while st.acks.front().is_some_and(|a| a.target <= st.durable_seq) {
            if let Some(ack) = st.acks.pop_front() {
                send_ack(&self.name, ack, &self.shared);
            }
        }
        for (store_seq, _) in &committed {
            self.note_store_seq(&mut st, *store_seq);
        }
        drop(st);
        if self.shared.bus.is_shared() {
            for (store_seq, data) in committed {
                self.shared.bus.publish(BusMessage::update(
                    self.shared.node_id,
                    self.name.clone(),
                    store_seq,
                    data,
                ));
            }
        }
    }
}

fn send_ack(doc: &Arc<str>, ack: PendingAck, shared: &Shared) {
    if ack.to.send(Outbound::Ack {
        doc: doc.clone(),
        id: ack.id,
        update: ack.update,
    }) {
        shared.metrics.acks.fetch_add(1, Ordering::Relaxed);
    }
}
