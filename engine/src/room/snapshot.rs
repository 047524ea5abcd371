//! Compaction: when the log behind a room's last snapshot passes a bound, a
//! snapshot becomes due; it is encoded when the writer takes the room's next
//! writes (by then the previous commit's numbers are known), placed after
//! them, and claims only what the room surely has: its contiguous store
//! sequence, which the store extends to the same commit's appends when nobody
//! else wrote in between. So a single node's snapshot covers everything it
//! wrote, as before numbering moved to the store.

use std::sync::Arc;

use bytes::Bytes;

use super::{Room, RoomState};
use crate::doc_apply;
use crate::store::LogWrite;

impl Room {
    /// Makes a snapshot due when the log behind the last one passes a bound.
    pub(super) fn maybe_snapshot(&self, st: &mut RoomState) {
        let cfg = &self.shared.config;
        if st.log_updates < cfg.snapshot_every_updates && st.log_bytes < cfg.snapshot_every_bytes {
            return;
        }
        st.log_updates = 0;
        st.log_bytes = 0;
        st.snapshot_due = true;
        // The pending appends stay (other nodes learn of updates from the
        // log and the bus, never from a snapshot), merged into one: while the
        // store is slow or down, memory holds one merged update, not every
        // edit.
        if merge_pending_appends(&self.name, &mut st.pending) {
            st.edits.merged();
        }
    }

    /// Adds the due snapshot, if any, after the pending appends.
    pub(super) fn push_due_snapshot(&self, st: &mut RoomState) {
        if !std::mem::take(&mut st.snapshot_due) {
            return;
        }
        let Some(data) = doc_apply::encode_snapshot(&st.doc) else {
            // Parked deletions cannot be folded into a snapshot: keep the log.
            return;
        };
        st.snapshot_bytes = data.len() as u64;
        st.pending.push(LogWrite::Snapshot {
            doc: self.name.clone(),
            seq: st.store_seq,
            data: Bytes::from(data),
        });
    }
}

/// Replaces the pending appends with one (merged); returns whether it did. If
/// they cannot be merged they are kept as they are.
fn merge_pending_appends(doc: &Arc<str>, pending: &mut Vec<LogWrite>) -> bool {
    let appends: Vec<&Bytes> = pending
        .iter()
        .filter_map(|w| match w {
            LogWrite::Append { data, .. } => Some(data),
            LogWrite::Snapshot { .. } => None,
        })
        .collect();
    let merged = match appends.len() {
        0 => None,
        1 => Some(appends[0].clone()),
        // Yrs is guarded against panics here as everywhere (the room lock is
        // held): a failure keeps the appends apart.
        _ => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            yrs::merge_updates_v1(appends.iter().map(|d| d.as_ref())).map_err(|e| e.to_string())
        }))
        .unwrap_or_else(|_| Err("Yrs panicked merging".into()))
        {
            Ok(m) => Some(Bytes::from(m)),
            Err(e) => {
                tracing::warn!(%doc, error = %e, "pending updates do not merge; kept apart");
                pending.retain(|w| matches!(w, LogWrite::Append { .. }));
                return false;
            }
        },
    };
    pending.clear();
    if let Some(data) = merged {
        pending.push(LogWrite::Append {
            doc: doc.clone(),
            data,
        });
    }
    true
}
