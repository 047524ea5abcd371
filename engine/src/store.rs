//! The `Store` trait: where documents are made durable.
//!
//! A document is stored as one snapshot (the whole state, as a Yjs v1 update) plus
//! the log of updates written after it, each with a per-document sequence number
//! that is contiguous from 1. Loading costs one snapshot and a short tail; a commit
//! writes many documents' appends and compactions in one transaction (group commit).
//!
//! The store numbers the updates itself, at commit: several nodes may write the
//! same document at once, and only the database can give their updates one
//! order. Commit order is sequence order, so a reader that sees sequence `n` can
//! read every sequence below it. The numbers are what lets a node that receives
//! updates from elsewhere notice a gap and catch up from here.

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
    /// Updates for documents that were moved away meanwhile (another node's
    /// move committed): they must not be logged under the old name, where
    /// nobody would read them. Nothing was written.
    #[error("moved away while these updates were in flight: {0:?}")]
    MovedAway(Vec<String>),
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
    /// Append an update to a document's log under the next sequence number.
    Append {
        /// Document name.
        doc: std::sync::Arc<str>,
        /// The Yjs v1 update.
        data: Bytes,
    },
    /// Replace the document's snapshot and drop the log rows it covers.
    ///
    /// `seq` is a sequence number the snapshot surely covers (its writer had
    /// applied every update up to it). If nobody else wrote the document since
    /// (the stored head still equals `seq` when this commit starts), the
    /// snapshot also covers the appends of the same commit that precede it, and
    /// the store records it as covering through the last of them.
    Snapshot {
        /// Document name.
        doc: std::sync::Arc<str>,
        /// A sequence number the snapshot surely covers.
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
    /// Applies all writes in one transaction, in order, and returns the
    /// sequence number given to each [`LogWrite::Append`], in order. A retried
    /// commit that had in fact succeeded logs its updates twice, which is
    /// harmless: applying a Yjs update again changes nothing.
    fn commit<'a>(&'a self, writes: &'a [LogWrite]) -> StoreFuture<'a, Vec<u64>>;
    /// What a reader that has everything up to `after` lacks: the snapshot if
    /// it covers more than `after` (compaction dropped the rows in between),
    /// and the log rows after `max(after, snapshot)`.
    fn load_since<'a>(&'a self, doc: &'a str, after: u64) -> StoreFuture<'a, StoredDoc>;
    /// The newest sequence number of each named document that has one.
    fn heads<'a>(&'a self, docs: &'a [std::sync::Arc<str>]) -> StoreFuture<'a, Vec<(String, u64)>>;
    /// Row counts for a document's log.
    fn log_stats<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, LogStats>;
    /// Checks the store can be reached (readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Which backend this is, for logs and metrics (`"sqlite"`, `"postgres"`).
    fn backend(&self) -> &'static str;
}
