//! Who edited what: the hook through which every accepted document change is
//! reported, with its editor and the top-level types it touched.
//!
//! A room calls [`DocActivity::edited`] under its lock for each update that
//! changed the document, so an implementation must only record (a map insert,
//! a channel send) and never wait. The versions service implements it to keep
//! documents' "last edited" metadata, to attribute changes between versions,
//! to debounce `doc.changed` events and to take automatic versions.

use std::sync::Arc;

/// One accepted change to a document.
#[derive(Debug, Clone)]
pub struct Edit {
    /// The document.
    pub doc: Arc<str>,
    /// The signed-in user whose session (or REST call) sent it; `None` for an
    /// anonymous session.
    pub user: Option<Arc<str>>,
    /// The top-level types it changed (nested changes count for their root),
    /// without duplicates. Empty for an update Yrs parked until its
    /// predecessors arrive.
    pub roots: Vec<Arc<str>>,
    /// Its sequence number in the document's log.
    pub seq: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// The document's estimated stored size after it (snapshot plus log).
    pub doc_bytes: u64,
    /// When it was accepted (epoch milliseconds).
    pub at: i64,
}

/// Receives every accepted change (see the module overview).
pub trait DocActivity: Send + Sync + 'static {
    /// Records `edit`. Called under the room's lock: must not block.
    fn edited(&self, edit: Edit);

    /// Document `old` was renamed to `new` (a move), after everything it
    /// accepted became durable: what is recorded for `old` and not yet
    /// written belongs to `new`.
    fn renamed(&self, old: &str, new: &str) {
        let _ = (old, new);
    }
}
