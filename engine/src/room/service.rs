//! Keeping a room in service or taking it out: holds by callers without a
//! session (the REST door, versions) that keep it from eviction, and the
//! retirement of a room whose document moved or was deleted (see
//! `crate::door`).

use std::time::Instant;

use super::Room;

impl Room {
    /// Keeps the room from eviction until [`Room::release`], for a caller with
    /// no session. Returns `false` if it was evicted meanwhile (load it again).
    pub(crate) fn hold(&self) -> bool {
        let mut st = self.lock();
        if st.evicted {
            return false;
        }
        st.holds += 1;
        st.idle_since = None;
        true
    }

    /// Ends a [`Room::hold`].
    pub(crate) fn release(&self) {
        let mut st = self.lock();
        st.holds = st.holds.saturating_sub(1);
        if st.holds == 0 && st.sessions.is_empty() {
            st.idle_since = Some(Instant::now());
        }
    }

    /// Takes the room out of service (its document moved or was deleted):
    /// every later write is refused, joins load a fresh room, and every session
    /// is asked to re-check its access. Returns the sequence that must become
    /// durable before the stored document may be renamed or removed.
    pub(crate) fn retire(&self) -> u64 {
        let mut st = self.lock();
        st.retired = true;
        st.evicted = true;
        st.last_seq
    }

    /// Puts a retired room back in service (the move or delete that retired
    /// it did not happen). Returns `false` if it was not retired.
    pub(crate) fn unretire(&self) -> bool {
        let mut st = self.lock();
        if st.dead {
            // Its memory holds updates the store never got: a reinstated
            // name loads a fresh room, and clients resend what it lacks.
            return false;
        }
        let was = st.retired;
        st.retired = false;
        st.evicted = false;
        was
    }

    /// Whether the room's unlogged updates were dropped (see
    /// [`Room::moved_away`]).
    pub(crate) fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// Whether the room was taken out of service (see [`Room::retire`]).
    pub fn is_retired(&self) -> bool {
        self.lock().retired
    }

    /// Another node moved the document while this room's updates were in
    /// flight: they are dropped (never acknowledged; their clients resend
    /// them to the new name by state vector), the name is taken out of service
    /// here, and the sessions re-check their access.
    pub(crate) fn moved_away(&self) {
        {
            let mut st = self.lock();
            st.retired = true;
            st.evicted = true;
            st.dead = true;
            st.acks.clear();
            st.pending.clear();
            st.edits.clear();
            st.queued = false;
            // Nothing more will be committed: the room counts as flushed.
            st.durable_seq = st.last_seq;
        }
        tracing::warn!(doc = %self.name, "document moved by another node while updates were in flight; they go to the new name by resync");
        self.shared.retire_here(
            &self.name,
            Some(std::time::Instant::now() + crate::cluster::REMOTE_TOMBSTONE),
        );
        self.request_rechecks();
    }

    /// Asks every session in the room to re-check its access now (the
    /// document's or its workspace's state changed).
    pub(crate) fn request_rechecks(&self) {
        for s in &self.lock().sessions {
            s.kill_switch().request_recheck();
        }
    }
}
