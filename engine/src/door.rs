//! The engine side of everything that reaches a document without a session:
//! the REST door (read a document, apply an update for a user, with the same
//! checks and the same durability as a socket write), restores, and taking a
//! document out of service when it moves or is deleted.
//!
//! A caller without a session *holds* the room while it works, so the sweep
//! cannot evict it between the write and its commit (a later open would then
//! load a store that lacks the write).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use yrs::Doc;

use crate::access::{Grant, Principal};
use crate::bus::Control;
use crate::engine::{Engine, Shared};
use crate::error::EngineError;
use crate::outbound::{KillSwitch, Outbound, SessionTx};
use crate::room::Room;
use crate::session::{refusal_error, validate_doc_name};

/// How long a door write waits for its commit before answering `unavailable`
/// (the update stays applied and is committed when the store recovers).
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// A room held for a caller without a session; released on drop.
pub struct HeldRoom(Arc<Room>);

impl std::ops::Deref for HeldRoom {
    type Target = Room;
    fn deref(&self) -> &Room {
        &self.0
    }
}

impl Drop for HeldRoom {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Engine {
    /// The grant `who` has on `doc`, as a socket open would ask it.
    pub async fn grant_for(&self, who: &Principal, doc: &str) -> Result<Grant, EngineError> {
        validate_doc_name(doc)?;
        self.shared
            .access
            .grant(who, doc)
            .await
            .map_err(refusal_error)
    }

    /// The room for `doc`, loaded if needed and held until the result drops.
    pub async fn hold_room(&self, doc: &str) -> Result<HeldRoom, EngineError> {
        validate_doc_name(doc)?;
        if self.is_closing() {
            return Err(EngineError::ShuttingDown);
        }
        loop {
            let room = Box::pin(self.room(doc)).await?;
            if room.hold() {
                return Ok(HeldRoom(room));
            }
            tokio::task::yield_now().await;
        }
    }

    /// Runs `f` on `doc`'s current state and its sequence number, for `who`
    /// (any grant reads).
    pub async fn read_as<R>(
        &self,
        who: &Principal,
        doc: &str,
        f: impl FnOnce(&Doc, u64) -> R,
    ) -> Result<R, EngineError> {
        self.grant_for(who, doc).await?;
        let room = self.hold_room(doc).await?;
        Ok(room.read(f))
    }

    /// Applies a Yjs v1 `update` to `doc` for `who`: the access check, the
    /// frame and document size limits, validation and the durable commit of a
    /// socket write. Returns the document's sequence number once everything up
    /// to it is durable.
    pub async fn apply_as(
        &self,
        who: &Principal,
        doc: &str,
        update: &[u8],
    ) -> Result<u64, EngineError> {
        match self.grant_for(who, doc).await? {
            Grant::ReadWrite => {}
            Grant::ReadOnly => return Err(EngineError::ReadOnly(doc.to_string())),
        }
        let editor = who.user.as_ref().map(|u| u.id.as_str());
        self.apply_trusted(doc, update, editor).await
    }

    /// Applies `update` to `doc` with no access check (the caller made its
    /// own: a restore), attributed to `editor`; waits until it is durable.
    pub async fn apply_trusted(
        &self,
        doc: &str,
        update: &[u8],
        editor: Option<&str>,
    ) -> Result<u64, EngineError> {
        let room = self.hold_room(doc).await?;
        let sh = &self.shared;
        let id = sh.next_session.fetch_add(1, Ordering::Relaxed);
        // A private queue that only ever receives this write's ack.
        let (tx, mut rx) =
            SessionTx::channel(id, 4, Arc::new(KillSwitch::default()), sh.metrics.clone());
        let seq = room.0.apply_client_update(&tx, update, None, editor)?;
        let acked = tokio::time::timeout(DURABLE_WAIT, async {
            while let Some(d) = rx.recv().await {
                if matches!(d.msg, Outbound::Ack { .. }) {
                    return true;
                }
            }
            false
        })
        .await;
        match acked {
            Ok(true) => Ok(seq),
            _ if room.0.is_dead() => Err(EngineError::Forbidden(format!(
                "document `{doc}` was moved while this update was in flight; \
                 look it up again and send the update to its new name"
            ))),
            _ => Err(EngineError::Unavailable(
                "the update was accepted but is not yet durable (the store is slow or down); \
                 it is committed when the store recovers"
                    .into(),
            )),
        }
    }

    /// Takes `doc` out of service before it is renamed or removed in the
    /// store: the name is tombstoned (no room is loaded for it again, not even
    /// by a load already under way, until [`Engine::reinstate_doc`]), writes
    /// to its live room are refused, and once everything that room accepted
    /// is durable this returns. Call [`Engine::recheck_doc_sessions`] after
    /// the store change, so its sessions re-check their access against the new
    /// state; if the change does not happen, call [`Engine::reinstate_doc`].
    ///
    /// Other nodes are told too and stop serving the name at once; their
    /// last accepted writes are committed within a group-commit interval,
    /// which this waits out as well before returning.
    pub async fn retire_doc(&self, doc: &str) -> Result<(), EngineError> {
        self.shared.publish_control(Control::Retire {
            doc: doc.to_string(),
        });
        let mut rooms = Vec::new();
        self.shared.retire_here(doc, None);
        // A room retired earlier (a move retried, a purge after a delete) may
        // still be committing: wait for it too.
        if let Some(room) = self.shared.retired.get(doc) {
            rooms.push(room.clone());
        }
        if self.shared.bus.is_shared() {
            tokio::time::sleep(self.shared.config.commit_interval * 3).await;
        }
        let deadline = tokio::time::Instant::now() + DURABLE_WAIT;
        for room in rooms {
            let target = room.retire();
            while room.seqs().1 < target {
                if tokio::time::Instant::now() >= deadline {
                    return Err(EngineError::Unavailable(
                        "the document's last changes are not yet durable; try again".into(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(())
    }

    /// Tells the edit-activity receiver that `old` is now `new` (a move that
    /// committed), so nothing it still holds is written under the old name.
    pub fn doc_renamed(&self, old: &str, new: &str) {
        if let Some(activity) = self.shared.activity.get() {
            activity.renamed(old, new);
        }
    }

    /// Undoes [`Engine::retire_doc`] for a name whose move or delete did not
    /// happen (or was undone, or that a move makes current again): it may be
    /// loaded again, and a retired room still serving sessions goes back in
    /// service as it was, so they carry on without noticing.
    pub fn reinstate_doc(&self, doc: &str) {
        self.shared.reinstate_here(doc);
        self.shared.publish_control(Control::Reinstate {
            doc: doc.to_string(),
        });
    }

    /// Asks every session with a document open whose name is `prefix` or
    /// starts with `prefix/` to re-check its access now, on every node: the
    /// document or its workspace was archived, restored, moved or deleted, or
    /// a guest's access changed. Rooms retired by [`Engine::retire_doc`] are
    /// included (and forgotten).
    pub fn recheck_doc_sessions(&self, prefix: &str) {
        self.shared.recheck_docs_here(prefix);
        self.shared.publish_control(Control::RecheckDocs {
            prefix: prefix.to_string(),
        });
    }
}

impl Shared {
    /// Whether `doc` is out of service here (a lapsed remote tombstone is
    /// dropped on the way).
    pub(crate) fn is_tombstoned(&self, doc: &str) -> bool {
        let now = Instant::now();
        let lapsed = match self.tombstones.get(doc) {
            None => return false,
            Some(t) => t.is_some_and(|until| now >= until),
        };
        if lapsed {
            // Only if it is still the lapsed one (not renewed meanwhile).
            self.tombstones
                .remove_if(doc, |_, v| v.is_some_and(|until| now >= until));
        }
        !lapsed
    }

    /// Tombstones `doc` here and retires its live room (kept in `retired`
    /// until its sessions are told). `until`: when a tombstone set at another
    /// node's request lapses (`None` for this node's own).
    pub(crate) fn retire_here(&self, doc: &str, until: Option<Instant>) {
        let name: Arc<str> = Arc::from(doc);
        // This node's own (permanent) tombstone is never shortened.
        self.tombstones
            .entry(name.clone())
            .and_modify(|t| {
                if let (Some(old), Some(new)) = (*t, until) {
                    *t = Some(old.max(new));
                } else {
                    *t = None;
                }
            })
            .or_insert(until);
        if let Some((_, slot)) = self.rooms.remove(doc)
            && let Some(room) = slot.get()
        {
            self.metrics.rooms_loaded.fetch_sub(1, Ordering::Relaxed);
            room.retire();
            self.retired.insert(name, room.clone());
        }
    }

    /// [`Engine::reinstate_doc`] on this node.
    pub(crate) fn reinstate_here(&self, doc: &str) {
        // Back in the registry before the tombstone goes, so no one loads a
        // second room for the name in between.
        if let Some((name, room)) = self.retired.remove(doc)
            && room.unretire()
        {
            match self.rooms.entry(name) {
                dashmap::Entry::Vacant(e) => {
                    e.insert(Arc::new(tokio::sync::OnceCell::new_with(Some(room))));
                    self.metrics.rooms_loaded.fetch_add(1, Ordering::Relaxed);
                }
                dashmap::Entry::Occupied(_) => {
                    // Cannot happen while the name is tombstoned; if it did,
                    // its sessions re-check and reopen the registered room.
                    room.retire();
                    room.request_rechecks();
                }
            }
        }
        self.tombstones.remove(doc);
    }

    /// [`Engine::recheck_doc_sessions`] on this node.
    pub(crate) fn recheck_docs_here(&self, prefix: &str) {
        let under = |name: &str| {
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        let live: Vec<Arc<Room>> = self
            .rooms
            .iter()
            .filter(|e| under(e.key()))
            .filter_map(|e| e.value().get().cloned())
            .collect();
        for room in live {
            room.request_rechecks();
        }
        let retired: Vec<Arc<str>> = self
            .retired
            .iter()
            .filter(|e| under(e.key()))
            .map(|e| e.key().clone())
            .collect();
        for name in retired {
            if let Some((_, room)) = self.retired.remove(&name) {
                room.request_rechecks();
            }
        }
    }
}
