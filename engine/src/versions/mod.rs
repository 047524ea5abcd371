//! Document versions and edit activity: named versions a member takes at any
//! time, automatic versions after a burst of editing goes quiet (and before a
//! restore), what changed between two versions and who changed it, restoring
//! a version as a new change on top, and each document's "last edited"
//! metadata and debounced `doc.changed` events.
//!
//! - [`params`]: params and results of the `version.*` operations.
//! - `store`: `doc_versions` and `doc_activity` in SQL.
//! - `tracker`: the [`DocActivity`] hook: every accepted edit, recorded in
//!   memory under the room's lock (a map update, nothing more).
//! - `flusher`: the background task that writes what the tracker recorded
//!   (the `docs` row's last edit and size, `doc_activity` rows), emits
//!   `doc.changed`, and takes automatic versions.
//! - `reads` and `changes`: the operations; `ops`: their registration.
//!
//! # Storage
//!
//! A version is a whole-document Yjs v1 update in `doc_versions`, apart from
//! the update log, so compaction never removes one. Its `seq` is the last log
//! sequence number it covers. Attribution lives in `doc_activity`: one row
//! per (document, user, top-level type) and flush window with the range of
//! sequence numbers it covers, so "who changed this root between two
//! versions" is the users whose rows overlap the versions' range.
//!
//! # Access
//!
//! Versions follow the document's access ([`Engine::grant_for`]): anyone who
//! may open the document lists, reads and diffs its versions; creating and
//! restoring one needs a read-write grant (`forbidden` for a viewer). A
//! document the caller cannot open, and a version id that is not one of the
//! document's, are `not_found` alike. Documents outside `biz/{id}/` and
//! `user/{id}/` have no versions (`invalid_argument`, field `doc`).
//!
//! # Events
//!
//! For business documents (`biz/{b}/...`; personal documents belong to no
//! business and emit none), in the domain-event outbox: `doc.versioned`
//! (named and automatic versions), `doc.restored`, and `doc.changed`,
//! debounced per document: one once the document has been quiet for
//! [`VersionsConfig::changed_quiet`], and at most one per
//! [`VersionsConfig::changed_max_interval`] while edits go on.

mod changes;
mod flusher;
mod ops;
pub mod params;
mod reads;
mod store;
mod tracker;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use yrs::{ReadTxn, StateVector, Transact};

pub use params::{Version, VersionKind};

use crate::access::{Grant, Namespace, Principal, namespace_of};
use crate::activity::DocActivity;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::events::{DomainEvent, EventNotifier, emit_in};
use crate::ops::{Ctx, OpError};
use crate::sql_store::SqlStore;
use crate::sql_store::begin_write;
use tracker::Tracker;

/// Timers of the activity tracker and of automatic versions.
#[derive(Debug, Clone)]
pub struct VersionsConfig {
    /// How often recorded edits are written (and timers checked).
    pub flush_interval: Duration,
    /// `doc.changed` is emitted once a document has been quiet this long ...
    pub changed_quiet: Duration,
    /// ... and at most once per this interval while edits go on.
    pub changed_max_interval: Duration,
    /// An automatic version is taken once a document edited since its last
    /// version has been quiet this long (`None`: never).
    pub auto_version_quiet: Option<Duration>,
}

impl Default for VersionsConfig {
    fn default() -> Self {
        VersionsConfig {
            flush_interval: Duration::from_secs(1),
            changed_quiet: Duration::from_secs(5),
            changed_max_interval: Duration::from_secs(60),
            auto_version_quiet: Some(Duration::from_secs(300)),
        }
    }
}

/// The versions service. Cheap to clone.
#[derive(Clone)]
pub struct Versions {
    inner: Arc<Inner>,
}

struct Inner {
    db: SqlStore,
    engine: Engine,
    events: EventNotifier,
    tracker: Arc<Tracker>,
    config: VersionsConfig,
    /// Restores on this node, one at a time: two computed against the same
    /// state would each insert the version's content (a double click would
    /// duplicate it). Restores are rare; one lock is enough.
    restoring: tokio::sync::Mutex<()>,
}

impl Versions {
    /// The service on `db` and `engine`, waking outbox consumers through
    /// `events`; starts the flush task (which ends with the engine's
    /// shutdown, after a last flush). Attach [`Versions::activity`] to the
    /// engine with [`Engine::set_activity`].
    pub fn start(
        db: SqlStore,
        engine: Engine,
        events: EventNotifier,
        config: VersionsConfig,
    ) -> Versions {
        let v = Versions {
            inner: Arc::new(Inner {
                db,
                engine,
                events,
                tracker: Arc::new(Tracker::default()),
                restoring: tokio::sync::Mutex::new(()),
                config,
            }),
        };
        flusher::spawn(v.clone());
        v
    }

    /// The hook that records every accepted edit (it holds no engine, so the
    /// engine holding it makes no cycle).
    pub fn activity(&self) -> Arc<dyn DocActivity> {
        self.inner.tracker.clone()
    }

    /// Writes everything recorded so far now and emits the `doc.changed`
    /// events and automatic versions that are due (tests; the flush task
    /// does this on its own).
    pub async fn flush_now(&self) {
        flusher::flush_once(self, false).await;
    }
}

/// Only business and personal documents have versions and activity.
pub(crate) fn tracked(doc: &str) -> bool {
    matches!(
        namespace_of(doc),
        Namespace::Business(_) | Namespace::User(_)
    )
}

/// The business of a business document.
pub(crate) fn business_of(doc: &str) -> Option<&str> {
    match namespace_of(doc) {
        Namespace::Business(b) => Some(b),
        _ => None,
    }
}

fn check_doc(doc: &str) -> Result<(), OpError> {
    if tracked(doc) {
        Ok(())
    } else {
        Err(OpError::invalid(
            "doc",
            "only documents named biz/{business_id}/{name} or user/{user_id}/{name} have versions",
        ))
    }
}

fn hidden(doc: &str) -> OpError {
    OpError::NotFound(format!("no document `{doc}` you can open"))
}

fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

/// The operation error for an engine error about `doc` (a document the
/// caller may not open is `not_found`, so its existence is not revealed).
fn engine_error(e: EngineError, doc: &str) -> OpError {
    match e {
        EngineError::Forbidden(_) => hidden(doc),
        EngineError::Unauthorized(m) => OpError::Unauthorized(m),
        EngineError::ReadOnly(_) => OpError::Forbidden(format!(
            "you may read `{doc}` and its versions but not change them (viewers are read-only)"
        )),
        EngineError::InvalidDocName(m) => OpError::invalid("doc", m),
        e @ (EngineError::DocTooLarge { .. } | EngineError::FrameTooLarge { .. }) => {
            OpError::Conflict(format!("the restore cannot be applied: {e}"))
        }
        e @ (EngineError::AccessUnavailable(_)
        | EngineError::LoadFailed(_)
        | EngineError::ShuttingDown
        | EngineError::TooManyConnections(_)
        | EngineError::Unavailable(_)) => OpError::Unavailable(e.to_string()),
        e => OpError::Internal(e.to_string()),
    }
}

impl Versions {
    /// The caller's grant on `doc` (`not_found` if they may not open it).
    async fn grant(&self, ctx: &Ctx, doc: &str) -> Result<Grant, OpError> {
        check_doc(doc)?;
        let who = Principal {
            session_id: String::new(),
            user: Some(ctx.user()?.clone()),
        };
        self.inner
            .engine
            .grant_for(&who, doc)
            .await
            .map_err(|e| engine_error(e, doc))
    }

    /// `doc`'s whole state as a Yjs v1 update, and the sequence it covers.
    async fn read_state(&self, doc: &str) -> Result<(Vec<u8>, u64), EngineError> {
        let room = self.inner.engine.hold_room(doc).await?;
        Ok(room.read(|d, seq| {
            (
                d.transact()
                    .encode_state_as_update_v1(&StateVector::default()),
                seq,
            )
        }))
    }

    /// Stores `version` with its content and, when `announce` and the
    /// document is a business's, its `doc.versioned` event in the same
    /// transaction; wakes the outbox consumers.
    async fn save(
        &self,
        version: &Version,
        data: &[u8],
        announce: bool,
    ) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(self.inner.db.pool()).await?;
        store::insert_version(&mut tx, version, data).await?;
        let business = business_of(&version.doc).filter(|_| announce);
        if let Some(business) = business {
            let mut event_data = json!({
                "doc": version.doc,
                "version_id": version.id,
                "kind": version.kind,
                "label": version.label,
                "seq": version.seq,
            });
            describe_doc(&mut tx, &version.doc, &mut event_data).await?;
            let event = DomainEvent::new(
                Some(business),
                "doc.versioned",
                &version.doc,
                version.author.as_deref(),
                event_data,
            );
            emit_in(&mut tx, &event).await?;
        }
        tx.commit().await?;
        if business.is_some() {
            self.inner.events.notify();
        }
        self.inner.tracker.versioned(&version.doc, version.seq);
        Ok(())
    }
}

/// Adds the `docs` row's `doc_id`, `workspace_id` and `title` to an event's
/// `data`, for a document that has one.
async fn describe_doc(
    conn: &mut sqlx::AnyConnection,
    doc: &str,
    data: &mut Value,
) -> Result<(), sqlx::Error> {
    if let (Some((id, workspace, title)), Value::Object(m)) =
        (store::doc_row(conn, doc).await?, data)
    {
        m.insert("doc_id".into(), Value::String(id));
        m.insert("workspace_id".into(), Value::String(workspace));
        m.insert("title".into(), Value::String(title));
    }
    Ok(())
}
