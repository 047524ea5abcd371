//! The `Store` trait: where documents are made durable.
//!
//! A document is stored as one snapshot (the whole state, as a Yjs v1 update) plus
//! the log of updates written after it, each with a per-document sequence number
//! that is contiguous from 1. Loading costs one snapshot and a short tail; a commit
//! writes many documents' appends and compactions in one transaction (group commit).
//! The sequence numbers are what lets a node that receives updates from elsewhere
//! notice a gap and catch up from here.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A boxed future, so that [`Store`] can be used as a trait object.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store failure. Nothing partial is ever visible: a failed commit wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed at start-up.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Migration number.
        version: i64,
        /// Migration file name.
        name: &'static str,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },
    /// The database URL names a backend we do not support.
    #[error("unsupported database URL `{0}` (use sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    /// Stored data that cannot be right (e.g. a negative sequence number).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Used by stores that fail on purpose (fault injection in tests).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What is stored for one document.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// The latest snapshot: the sequence it covers and its bytes.
    pub snapshot: Option<(u64, Bytes)>,
    /// Updates after the snapshot, in sequence order.
    pub tail: Vec<(u64, Bytes)>,
}

impl StoredDoc {
    /// The highest sequence number stored (0 for a new document).
    pub fn last_seq(&self) -> u64 {
        self.tail
            .last()
            .map(|(s, _)| *s)
            .or(self.snapshot.as_ref().map(|(s, _)| *s))
            .unwrap_or(0)
    }
}

/// One write in a group commit.
#[derive(Debug, Clone)]
pub enum LogWrite {
    /// Append an update to a document's log.
    Append {
        /// Document name.
        doc: std::sync::Arc<str>,
        /// Its sequence number.
        seq: u64,
        /// The Yjs v1 update.
        data: Bytes,
    },
    /// Replace the document's snapshot with one covering everything up to `seq`,
    /// and drop the log rows it covers.
    Snapshot {
        /// Document name.
        doc: std::sync::Arc<str>,
        /// The last sequence number the snapshot covers.
        seq: u64,
        /// The whole document as a Yjs v1 update.
        data: Bytes,
    },
}

/// Counts for one document's stored log, for tests and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Log rows behind the snapshot.
    pub updates: u64,
    /// Bytes in those rows.
    pub update_bytes: u64,
    /// Sequence covered by the snapshot (0 if none).
    pub snapshot_seq: u64,
}

/// Durable storage for documents.
pub trait Store: Send + Sync + 'static {
    /// Reads a document's snapshot and the log after it. A document never written
    /// is an empty [`StoredDoc`]; a failure is an error, never an empty document.
    fn load<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, StoredDoc>;
    /// Applies all writes in one transaction, in order. Appends are idempotent (a
    /// retried commit that had in fact succeeded is harmless).
    fn commit<'a>(&'a self, writes: &'a [LogWrite]) -> StoreFuture<'a, ()>;
    /// Row counts for a document's log.
    fn log_stats<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, LogStats>;
    /// Checks the store can be reached (readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Which backend this is, for logs and metrics (`"sqlite"`, `"postgres"`).
    fn backend(&self) -> &'static str;
}
