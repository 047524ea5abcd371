//! Who edited what, reported to the activity hook once an edit is durable and
//! under the number the store gave it.
//!
//! Versions compare these numbers with the store sequence a version covers, so
//! they must be the store's: the room's own count drifts from it as soon as
//! pending appends are merged before a snapshot, or another node writes the
//! same document. Each pending append carries the edits it holds; the writer's
//! `on_durable` hands back one store number per append, in order.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::activity::Edit;

/// An accepted edit waiting for its store number.
pub(super) struct EditNote {
    pub(super) user: Option<Arc<str>>,
    pub(super) roots: Vec<Arc<str>>,
    pub(super) bytes: u64,
    pub(super) doc_bytes: u64,
    pub(super) at: i64,
}

/// The edits of appends not yet committed, one group per append.
#[derive(Default)]
pub(super) struct EditQueue {
    /// Groups of the appends still in the room's `pending`, in order.
    pending: Vec<Vec<EditNote>>,
    /// Groups of the appends handed to the writer, in order.
    taken: VecDeque<Vec<EditNote>>,
}

impl EditQueue {
    /// A new append was queued holding `note` (none when nobody listens).
    pub(super) fn appended(&mut self, note: Option<EditNote>) {
        self.pending.push(note.into_iter().collect());
    }

    /// The pending appends were merged into one.
    pub(super) fn merged(&mut self) {
        if self.pending.len() > 1 {
            let all = self.pending.drain(..).flatten().collect();
            self.pending.push(all);
        }
    }

    /// The writer took the pending appends.
    pub(super) fn handed_over(&mut self) {
        self.taken.extend(self.pending.drain(..));
    }

    /// The writer committed the next appends under `numbers` (one per append,
    /// in order): the edits they held, numbered.
    pub(super) fn committed(
        &mut self,
        doc: &Arc<str>,
        numbers: impl Iterator<Item = u64>,
    ) -> Vec<Edit> {
        let mut out = Vec::new();
        for seq in numbers {
            let Some(group) = self.taken.pop_front() else {
                break;
            };
            out.extend(group.into_iter().map(|n| Edit {
                doc: doc.clone(),
                user: n.user,
                roots: n.roots,
                seq,
                bytes: n.bytes,
                doc_bytes: n.doc_bytes,
                at: n.at,
            }));
        }
        out
    }

    /// Nothing queued will be committed (the document moved away).
    pub(super) fn clear(&mut self) {
        self.pending.clear();
        self.taken.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(user: &str) -> Option<EditNote> {
        Some(EditNote {
            user: Some(Arc::from(user)),
            roots: vec![Arc::from("t")],
            bytes: 1,
            doc_bytes: 1,
            at: 0,
        })
    }

    #[test]
    fn merged_appends_take_the_one_number_the_store_gave_them() {
        let doc: Arc<str> = Arc::from("d");
        let mut q = EditQueue::default();
        q.appended(note("a"));
        q.appended(note("b"));
        q.merged();
        q.appended(note("c"));
        q.handed_over();
        let edits = q.committed(&doc, [41, 42].into_iter());
        let got: Vec<(String, u64)> = edits
            .iter()
            .map(|e| (e.user.as_deref().unwrap_or_default().to_string(), e.seq))
            .collect();
        assert_eq!(
            got,
            vec![("a".into(), 41), ("b".into(), 41), ("c".into(), 42)]
        );
        assert!(q.committed(&doc, [43].into_iter()).is_empty());
    }
}
