//! The background task behind the tracker: every flush interval it writes
//! the windows of edits (each `docs` row's last edit and size, and
//! `doc_activity` rows), emits the `doc.changed` events that are due, and
//! takes the automatic versions that are due. When the engine starts shutting
//! down it flushes once more, with every pending event and version due.

use std::time::{Duration, Instant};

use serde_json::json;

use super::params::{Version, VersionKind};
use super::store;
use super::tracker::{PendingChange, Window};
use super::{Versions, business_of, describe_doc};
use crate::clock::now_ms;
use crate::events::{DomainEvent, emit_in};
use crate::sql_store::begin_write;

/// How long an automatic version that failed waits before the next attempt.
const AUTO_RETRY: Duration = Duration::from_secs(30);

/// Starts the flush task; it ends after the flush that follows the engine's
/// shutdown.
pub(super) fn spawn(v: Versions) {
    tokio::spawn(async move {
        let every = v.inner.config.flush_interval.max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(every).await;
            let closing = v.inner.engine.is_closing();
            flush_once(&v, closing).await;
            if closing {
                return;
            }
        }
    });
}

/// One pass (see the module overview).
pub(super) async fn flush_once(v: &Versions, closing: bool) {
    let batch = v
        .inner
        .tracker
        .take(Instant::now(), &v.inner.config, closing);
    if !batch.windows.is_empty() || !batch.changes.is_empty() {
        match write(v, &batch.windows, &batch.changes).await {
            Ok(0) => {}
            Ok(_) => v.inner.events.notify(),
            Err(e) => {
                tracing::warn!(error = %e, "document activity not written; retrying");
                v.inner.tracker.put_back(batch.windows, batch.changes);
            }
        }
    }
    // Only now: until the write landed, diffs read these from memory.
    v.inner.tracker.written(batch.id);
    for (doc, last_seq) in batch.auto {
        auto_version(v, &doc, last_seq, closing).await;
    }
}

/// Writes the windows and the due events in one transaction; returns how
/// many events it emitted.
async fn write(
    v: &Versions,
    windows: &[(std::sync::Arc<str>, Window)],
    changes: &[(std::sync::Arc<str>, PendingChange)],
) -> Result<usize, sqlx::Error> {
    let mut tx = begin_write(v.inner.db.pool()).await?;
    for (doc, w) in windows {
        // Only business documents have a `docs` row.
        if business_of(doc).is_some() {
            store::touch_doc(&mut tx, doc, w.last_at, w.last_by.as_deref(), w.doc_bytes).await?;
        }
        store::insert_activity(&mut tx, doc, &w.rows()).await?;
    }
    let mut emitted = 0;
    for (doc, c) in changes {
        let Some(business) = business_of(doc) else {
            continue;
        };
        let mut data = json!({
            "doc": doc.as_ref(),
            "first_seq": c.first_seq,
            "last_seq": c.last_seq,
            "edits": c.edits,
            "editors": c.editors,
            "roots": c.roots,
        });
        describe_doc(&mut tx, doc, &mut data).await?;
        // The actor is the editor when there was only one.
        let actor = match c.editors.len() {
            1 => c.editors.first().map(String::as_str),
            _ => None,
        };
        let event = DomainEvent::new(Some(business), "doc.changed", doc, actor, data);
        emit_in(&mut tx, &event).await?;
        emitted += 1;
    }
    tx.commit().await?;
    Ok(emitted)
}

/// Takes an automatic version of `doc`, whose newest known edit is
/// `last_seq`.
async fn auto_version(v: &Versions, doc: &str, last_seq: u64, closing: bool) {
    let tracker = &v.inner.tracker;
    let state = if closing {
        // Rooms can no longer be loaded: a live one is read as it is.
        v.inner.engine.live_room(doc).map(|r| {
            r.read(|d, seq| {
                use yrs::{ReadTxn, StateVector, Transact};
                (
                    d.transact()
                        .encode_state_as_update_v1(&StateVector::default()),
                    seq,
                )
            })
        })
    } else {
        match v.read_state(doc).await {
            Ok(s) => Some(s),
            Err(crate::error::EngineError::Forbidden(_)) => {
                // Moved or deleted (the name is out of service): nothing to
                // version under this name, now or later.
                tracker.versioned(doc, last_seq);
                return;
            }
            Err(e) => {
                tracing::warn!(doc, error = %e, "automatic version: document not readable");
                tracker.auto_failed(doc, AUTO_RETRY);
                return;
            }
        }
    };
    let Some((data, seq)) = state else {
        return;
    };
    if seq < last_seq {
        // The document was moved or deleted meanwhile: what is under this
        // name now is not what was edited. Nothing to keep here.
        tracker.versioned(doc, last_seq);
        return;
    }
    let version = Version {
        id: uuid::Uuid::now_v7().to_string(),
        doc: doc.to_string(),
        kind: VersionKind::Auto,
        label: None,
        author: None,
        created_at: now_ms(),
        seq,
        size_bytes: data.len() as u64,
    };
    if let Err(e) = v.save(&version, &data, true).await {
        tracing::warn!(doc, error = %e, "automatic version not stored");
        tracker.auto_failed(doc, AUTO_RETRY);
    }
}
