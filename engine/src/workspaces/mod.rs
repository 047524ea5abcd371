//! Workspaces and first-class documents, guest access for partners, and a
//! business's storage totals.
//!
//! A business groups its documents in workspaces. A workspace document is a
//! `docs` row whose `name` is `biz/{business}/ws/{workspace}/{doc_id}`: the
//! room and log key, which changes when the document moves (its `id` never
//! does). Access to those names is decided from these rows (see
//! [`standing::doc_grant`], used by [`crate::access::NamespacePolicy`]).
//!
//! - [`params`]: the operations' params and results.
//! - [`standing`]: who the caller is in a workspace (member with a role, guest
//!   with an access, or nobody), and the grant on a workspace document.
//! - `spaces`: `workspace.create`, `.rename`, `.archive`, `.unarchive`, `.list`.
//! - `docs`: `doc.create`, `.list`, `.info`, `.rename`, `.archive`, `.unarchive`.
//! - `moves`: `doc.move` (and finishing a move a crash interrupted).
//! - `trash`: `doc.delete`, `.undelete`, `.trash`, and the purge after the
//!   grace period.
//! - `guests`: `guest.invite`, `.accept`, `.list`, `.set_access`, `.remove`,
//!   `guest.invitation.revoke`.
//! - `storage`: `business.storage`.
//! - `ops`: the registration of all of them (routes in `docs/workspaces.md`).
//!
//! Every change writes its domain event (`doc.created`, `workspace.archived`,
//! ...) in its own transaction; deletions and guest changes also go to the
//! audit log in that transaction. A change that narrows what open editors may
//! do tells the engine after it commits (`recheck_doc_sessions`,
//! `access_changed`), so they are downgraded or closed at once.

mod docs;
mod guests;
mod moves;
mod ops;
pub mod params;
mod spaces;
pub mod standing;
mod storage;
mod trash;
mod write;

use std::sync::Arc;
use std::time::Duration;

use crate::audit::AuditLog;
use crate::engine::Engine;
use crate::events::EventNotifier;
use crate::sql_store::SqlStore;

pub use params::{DocInfo, DocKind, GuestAccess, Workspace};

/// How long a deleted document is kept before it is purged, by default.
pub const DEFAULT_DELETE_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The time source: epoch milliseconds (a test moves it forward).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The workspaces service. Cheap to clone.
#[derive(Clone)]
pub struct Workspaces(Arc<Inner>);

struct Inner {
    db: SqlStore,
    engine: Engine,
    audit: AuditLog,
    notifier: EventNotifier,
    grace_ms: i64,
    clock: Clock,
}

impl Workspaces {
    /// The service over `db`; documents live in `engine`; critical changes go
    /// to `audit`; `notifier` is told when events commit.
    pub fn new(
        db: SqlStore,
        engine: Engine,
        audit: AuditLog,
        notifier: EventNotifier,
    ) -> Workspaces {
        Workspaces(Arc::new(Inner {
            db,
            engine,
            audit,
            notifier,
            grace_ms: DEFAULT_DELETE_GRACE.as_millis() as i64,
            clock: Arc::new(crate::clock::now_ms),
        }))
    }

    /// Keeps deleted documents for `grace` before purging them.
    pub fn with_delete_grace(self, grace: Duration) -> Workspaces {
        self.rebuild(|i| i.grace_ms = grace.as_millis().min(i64::MAX as u128) as i64)
    }

    /// Reads the time from `clock` (tests).
    pub fn with_clock(self, clock: Clock) -> Workspaces {
        self.rebuild(|i| i.clock = clock)
    }

    fn rebuild(self, f: impl FnOnce(&mut Inner)) -> Workspaces {
        let mut inner = Inner {
            db: self.0.db.clone(),
            engine: self.0.engine.clone(),
            audit: self.0.audit.clone(),
            notifier: self.0.notifier.clone(),
            grace_ms: self.0.grace_ms,
            clock: self.0.clock.clone(),
        };
        f(&mut inner);
        Workspaces(Arc::new(inner))
    }

    /// The time now, epoch milliseconds.
    fn now(&self) -> i64 {
        (self.0.clock)()
    }

    fn db(&self) -> &SqlStore {
        &self.0.db
    }

    fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// Starts the background task that, every `every` (and once now),
    /// finishes moves a crash interrupted and purges documents past their
    /// grace period. It ends with the service or when the engine closes.
    pub fn spawn_housekeeping(&self, every: Duration) {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let ws = Workspaces(inner);
                if ws.engine().is_closing() {
                    return;
                }
                ws.housekeeping().await;
                drop(ws);
                tokio::time::sleep(every).await;
            }
        });
    }

    /// One housekeeping pass (see [`Workspaces::spawn_housekeeping`]).
    pub async fn housekeeping(&self) {
        if let Err(e) = self.finish_interrupted_moves().await {
            tracing::warn!(error = %e, "finishing interrupted document moves failed");
        }
        match self.purge_expired().await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "deleted documents purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "document purge failed"),
        }
    }
}

/// The name of document `doc_id` in workspace `workspace` of `business`.
pub fn doc_name(business: &str, workspace: &str, doc_id: &str) -> String {
    format!("biz/{business}/ws/{workspace}/{doc_id}")
}

/// The prefix every document of workspace `workspace` starts with (without
/// the trailing `/`).
pub fn workspace_prefix(business: &str, workspace: &str) -> String {
    format!("biz/{business}/ws/{workspace}")
}
