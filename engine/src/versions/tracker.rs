//! The [`DocActivity`] hook: every accepted edit of a business or personal
//! document, recorded in memory (a short map update under a mutex; rooms call
//! it under their own lock). The flush task takes what accumulated and decides
//! what is due: `docs` rows and `doc_activity` rows every window, a
//! `doc.changed` event once a document is quiet (or has been changing for too
//! long), an automatic version once an edited document is quiet.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::store::ActivityRow;
use super::{VersionsConfig, business_of, tracked};
use crate::activity::{DocActivity, Edit};

/// Edits of one (user, root) in the current window.
#[derive(Debug, Clone, Copy)]
struct Span {
    first_seq: u64,
    last_seq: u64,
    edits: u64,
    last_at: i64,
}

/// What a document's edits since the last flush add up to.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// Keyed by (user id or `""`, root).
    spans: HashMap<(Arc<str>, Arc<str>), Span>,
    /// The newest edit: when, by whom, and the document's size after it.
    pub last_at: i64,
    pub last_by: Option<Arc<str>>,
    pub doc_bytes: u64,
    edits: u64,
}

impl Window {
    fn is_empty(&self) -> bool {
        self.edits == 0
    }

    /// The rows to append to `doc_activity`.
    pub fn rows(&self) -> Vec<ActivityRow> {
        let mut rows: Vec<ActivityRow> = self
            .spans
            .iter()
            .map(|((user, root), s)| ActivityRow {
                user_id: user.to_string(),
                root: root.to_string(),
                first_seq: s.first_seq,
                last_seq: s.last_seq,
                edits: s.edits,
                last_at: s.last_at,
            })
            .collect();
        rows.sort_by(|a, b| (&a.user_id, &a.root).cmp(&(&b.user_id, &b.root)));
        rows
    }

    /// Folds `other` (an older window whose write failed) back in.
    fn merge(&mut self, other: Window) {
        for (k, s) in other.spans {
            self.spans
                .entry(k)
                .and_modify(|m| {
                    m.first_seq = m.first_seq.min(s.first_seq);
                    m.last_seq = m.last_seq.max(s.last_seq);
                    m.edits += s.edits;
                    m.last_at = m.last_at.max(s.last_at);
                })
                .or_insert(s);
        }
        if other.last_at > self.last_at || self.edits == 0 {
            self.last_at = other.last_at;
            self.last_by = other.last_by;
            self.doc_bytes = other.doc_bytes;
        }
        self.edits += other.edits;
    }
}

/// A `doc.changed` event being debounced.
#[derive(Debug, Clone)]
pub(super) struct PendingChange {
    pub first_seq: u64,
    pub last_seq: u64,
    pub edits: u64,
    pub editors: BTreeSet<String>,
    pub roots: BTreeSet<String>,
    started: Instant,
}

#[derive(Debug)]
struct DocTrack {
    window: Window,
    change: Option<PendingChange>,
    last_edit: Instant,
    last_seq: u64,
    /// The highest sequence a version of this document covers, as far as
    /// this node knows.
    versioned_seq: u64,
    /// No automatic version before this (after a failed attempt).
    auto_not_before: Option<Instant>,
}

/// What one flush writes: windows, due events, due automatic versions.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub windows: Vec<(Arc<str>, Window)>,
    pub changes: Vec<(Arc<str>, PendingChange)>,
    /// Documents due for an automatic version, with the newest sequence
    /// number an edit of theirs had.
    pub auto: Vec<(Arc<str>, u64)>,
    /// Names this batch's windows while they are being written (see
    /// [`Tracker::written`]).
    pub id: u64,
}

/// A span taken by a flush and not yet written: (doc, user, root, first, last).
type WritingSpan = (Arc<str>, Arc<str>, Arc<str>, u64, u64);

/// The recorder (see the module overview).
#[derive(Default)]
pub(crate) struct Tracker {
    docs: Mutex<HashMap<Arc<str>, DocTrack>>,
    /// Spans of windows being written, by batch: a diff that reads the
    /// database before they land and memory after they were taken must still
    /// find them.
    writing: Mutex<Vec<(u64, WritingSpan)>>,
    batches: std::sync::atomic::AtomicU64,
}

impl DocActivity for Tracker {
    fn edited(&self, edit: Edit) {
        if !tracked(&edit.doc) {
            return;
        }
        let now = Instant::now();
        let business = business_of(&edit.doc).is_some();
        let mut docs = self.lock();
        let t = docs.entry(edit.doc.clone()).or_insert_with(|| DocTrack {
            window: Window::default(),
            change: None,
            last_edit: now,
            last_seq: 0,
            versioned_seq: 0,
            auto_not_before: None,
        });
        t.last_edit = now;
        t.last_seq = t.last_seq.max(edit.seq);
        let user: Arc<str> = edit.user.clone().unwrap_or_else(|| Arc::from(""));
        let w = &mut t.window;
        for root in &edit.roots {
            w.spans
                .entry((user.clone(), root.clone()))
                .and_modify(|s| {
                    s.first_seq = s.first_seq.min(edit.seq);
                    s.last_seq = s.last_seq.max(edit.seq);
                    s.edits += 1;
                    s.last_at = s.last_at.max(edit.at);
                })
                .or_insert(Span {
                    first_seq: edit.seq,
                    last_seq: edit.seq,
                    edits: 1,
                    last_at: edit.at,
                });
        }
        w.edits += 1;
        w.last_at = edit.at;
        if edit.user.is_some() {
            w.last_by = edit.user.clone();
        }
        w.doc_bytes = edit.doc_bytes;
        if business {
            let c = t.change.get_or_insert_with(|| PendingChange {
                first_seq: edit.seq,
                last_seq: edit.seq,
                edits: 0,
                editors: BTreeSet::new(),
                roots: BTreeSet::new(),
                started: now,
            });
            c.first_seq = c.first_seq.min(edit.seq);
            c.last_seq = c.last_seq.max(edit.seq);
            c.edits += 1;
            if let Some(u) = &edit.user {
                c.editors.insert(u.to_string());
            }
            c.roots.extend(edit.roots.iter().map(|r| r.to_string()));
        }
    }

    fn renamed(&self, old: &str, new: &str) {
        // What `old` recorded and has not written yet is the moved document's.
        let mut docs = self.lock();
        if let Some(t) = docs.remove(old) {
            docs.entry(Arc::from(new)).or_insert(t);
        }
    }
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, DocTrack>> {
        self.docs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every window, and the events and automatic versions due at
    /// `now` (all pending events when `closing`). Forgets documents with
    /// nothing left to do.
    pub(super) fn take(&self, now: Instant, cfg: &VersionsConfig, closing: bool) -> Batch {
        let mut batch = Batch {
            id: self
                .batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..Batch::default()
        };
        let mut writing = Vec::new();
        let mut docs = self.lock();
        docs.retain(|doc, t| {
            if !t.window.is_empty() {
                for ((user, root), span) in &t.window.spans {
                    let key = (doc.clone(), user.clone(), root.clone());
                    writing.push((
                        batch.id,
                        (key.0, key.1, key.2, span.first_seq, span.last_seq),
                    ));
                }
                batch
                    .windows
                    .push((doc.clone(), std::mem::take(&mut t.window)));
            }
            let quiet = now.saturating_duration_since(t.last_edit);
            let change_due = t.change.as_ref().is_some_and(|c| {
                closing
                    || quiet >= cfg.changed_quiet
                    || now.saturating_duration_since(c.started) >= cfg.changed_max_interval
            });
            if change_due && let Some(c) = t.change.take() {
                batch.changes.push((doc.clone(), c));
            }
            let dirty = t.last_seq > t.versioned_seq;
            let auto_due = cfg.auto_version_quiet.is_some_and(|q| {
                dirty && (closing || quiet >= q) && t.auto_not_before.is_none_or(|nb| now >= nb)
            });
            if auto_due {
                batch.auto.push((doc.clone(), t.last_seq));
            }
            // Kept while something is pending or an automatic version may come.
            let waiting_version = dirty && cfg.auto_version_quiet.is_some();
            t.change.is_some() || waiting_version || auto_due
        });
        drop(docs);
        if !writing.is_empty() {
            self.lock_writing().extend(writing);
        }
        batch
    }

    /// The windows of batch `id` were written (or put back).
    pub(super) fn written(&self, id: u64) {
        self.lock_writing().retain(|(b, _)| *b != id);
    }

    fn lock_writing(&self) -> MutexGuard<'_, Vec<(u64, WritingSpan)>> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts back what a failed write took, so the next flush retries it.
    pub(super) fn put_back(
        &self,
        windows: Vec<(Arc<str>, Window)>,
        changes: Vec<(Arc<str>, PendingChange)>,
    ) {
        let now = Instant::now();
        let mut docs = self.lock();
        for (doc, w) in windows {
            let t = docs.entry(doc).or_insert_with(|| DocTrack::idle(now));
            t.window.merge(w);
        }
        for (doc, c) in changes {
            let t = docs.entry(doc).or_insert_with(|| DocTrack::idle(now));
            match &mut t.change {
                Some(m) => {
                    m.first_seq = m.first_seq.min(c.first_seq);
                    m.last_seq = m.last_seq.max(c.last_seq);
                    m.edits += c.edits;
                    m.editors.extend(c.editors);
                    m.roots.extend(c.roots);
                    m.started = m.started.min(c.started);
                }
                None => t.change = Some(c),
            }
        }
    }

    /// A version of `doc` covering `seq` was stored.
    pub(super) fn versioned(&self, doc: &str, seq: u64) {
        if let Some(t) = self.lock().get_mut(doc) {
            t.versioned_seq = t.versioned_seq.max(seq);
            t.auto_not_before = None;
        }
    }

    /// An automatic version of `doc` failed: try again after `delay`.
    pub(super) fn auto_failed(&self, doc: &str, delay: Duration) {
        if let Some(t) = self.lock().get_mut(doc) {
            t.auto_not_before = Some(Instant::now() + delay);
        }
    }

    /// (user, root) spans of `doc` not yet written, overlapping `(lo, hi]`.
    pub(super) fn unflushed_editors(&self, doc: &str, lo: u64, hi: u64) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .lock_writing()
            .iter()
            .filter(|(_, (d, _, _, first, last))| &**d == doc && *last > lo && *first <= hi)
            .map(|(_, (_, u, r, _, _))| (u.to_string(), r.to_string()))
            .collect();
        let docs = self.lock();
        if let Some(t) = docs.get(doc) {
            out.extend(
                t.window
                    .spans
                    .iter()
                    .filter(|(_, s)| s.last_seq > lo && s.first_seq <= hi)
                    .map(|((u, r), _)| (u.to_string(), r.to_string())),
            );
        }
        out
    }
}

impl DocTrack {
    /// A document whose edits were all versioned (a put-back entry).
    fn idle(now: Instant) -> DocTrack {
        DocTrack {
            window: Window::default(),
            change: None,
            last_edit: now,
            last_seq: 0,
            versioned_seq: 0,
            auto_not_before: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::VersionsConfig;

    #[test]
    fn a_window_being_written_is_still_seen_by_diffs() {
        let t = Tracker::default();
        let doc = "biz/b1/notes";
        t.edited(Edit {
            doc: Arc::from(doc),
            user: Some(Arc::from("u1")),
            roots: vec![Arc::from("t")],
            seq: 3,
            bytes: 1,
            doc_bytes: 1,
            at: 1,
        });
        let cfg = VersionsConfig {
            flush_interval: Duration::from_millis(50),
            changed_quiet: Duration::from_secs(1),
            changed_max_interval: Duration::from_secs(60),
            auto_version_quiet: None,
        };
        let batch = t.take(Instant::now(), &cfg, false);
        assert_eq!(batch.windows.len(), 1);
        // Taken, not yet written: a diff must still find the editor.
        let seen = t.unflushed_editors(doc, 2, 3);
        assert_eq!(seen, vec![("u1".to_string(), "t".to_string())]);
        t.written(batch.id);
        assert!(t.unflushed_editors(doc, 2, 3).is_empty());
    }
}
