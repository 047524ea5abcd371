//! The operations that change state: take a named version, and restore one as
//! a new change on top of the document (its history is never rewritten, so
//! every open editor converges to the restored content).

use serde_json::json;
use yrs::{ReadTxn, StateVector, Transact};

use super::params::{CreateVersion, RestoreVersion, Restored, Version, VersionKind};
use super::{Versions, business_of, db_err, describe_doc, engine_error};
use crate::access::Grant;
use crate::clock::now_ms;
use crate::doc_tree;
use crate::events::{DomainEvent, emit_in};
use crate::ops::{Ctx, OpError};
use crate::sql_store::begin_write;

/// Creating and restoring need a read-write grant.
fn writable(grant: Grant, doc: &str) -> Result<(), OpError> {
    match grant {
        Grant::ReadWrite => Ok(()),
        Grant::ReadOnly => Err(OpError::Forbidden(format!(
            "you may read `{doc}` and its versions but not create or restore one (viewers are read-only)"
        ))),
    }
}

impl Versions {
    /// `version.create`: the document as it is now, named, with
    /// `doc.versioned`.
    pub(super) async fn create(&self, ctx: &Ctx, p: CreateVersion) -> Result<Version, OpError> {
        writable(self.grant(ctx, &p.doc).await?, &p.doc)?;
        let me = ctx.user()?.id.clone();
        let (data, seq) = self
            .read_state(&p.doc)
            .await
            .map_err(|e| engine_error(e, &p.doc))?;
        let version = Version {
            id: uuid::Uuid::now_v7().to_string(),
            doc: p.doc,
            kind: VersionKind::Named,
            label: Some(p.label.into_string()),
            author: Some(me),
            created_at: now_ms(),
            seq,
            size_bytes: data.len() as u64,
        };
        self.save(&version, &data, true)
            .await
            .map_err(db_err("version.create"))?;
        Ok(version)
    }

    /// `version.restore`: a `before_restore` version of the current content,
    /// then the change that turns the current content into the version's,
    /// applied as the caller's edit, with `doc.restored`.
    pub(super) async fn restore(&self, ctx: &Ctx, p: RestoreVersion) -> Result<Restored, OpError> {
        const CX: &str = "version.restore";
        let doc = p.doc.as_str();
        writable(self.grant(ctx, doc).await?, doc)?;
        let me = ctx.user()?.id.clone();
        let (target_version, target_data) = self.load_version(doc, p.version_id.as_str()).await?;
        let target = doc_tree::doc_from_v1(&target_data).map_err(|e| {
            OpError::Internal(format!(
                "version `{}` does not decode: {e}",
                target_version.id
            ))
        })?;
        // Computed and applied under this node's restore lock (see `Inner`).
        let _restoring = self.inner.restoring.lock().await;
        // Held until the change is applied, so the room the update was
        // computed against is the one it is applied to.
        let room = self
            .inner
            .engine
            .hold_room(doc)
            .await
            .map_err(|e| engine_error(e, doc))?;
        let (update, current, seq) = room.read(|d, seq| {
            let update = doc_tree::restore_update(d, &target);
            let current = update.as_ref().map(|_| {
                d.transact()
                    .encode_state_as_update_v1(&StateVector::default())
            });
            (update, current, seq)
        });
        let (Some(update), Some(current)) = (update, current) else {
            return Ok(Restored {
                doc: p.doc,
                version_id: target_version.id,
                restored: false,
                seq,
                before_restore_version_id: None,
                message: "the document already has this version's content; nothing changed".into(),
            });
        };
        let what = target_version.label.as_deref().map_or_else(
            || format!("version {}", target_version.id),
            |l| format!("`{l}`"),
        );
        let before = Version {
            id: uuid::Uuid::now_v7().to_string(),
            doc: p.doc.clone(),
            kind: VersionKind::BeforeRestore,
            label: Some(format!("Before restoring {what}")),
            author: Some(me.clone()),
            created_at: now_ms(),
            seq,
            size_bytes: current.len() as u64,
        };
        // Stored first: whatever happens next, the content it replaces is kept.
        self.save(&before, &current, false)
            .await
            .map_err(db_err(CX))?;
        let new_seq = self
            .inner
            .engine
            .apply_trusted(doc, &update, Some(&me))
            .await
            .map_err(|e| engine_error(e, doc))?;
        drop(room);
        if let Some(business) = business_of(doc) {
            let mut data = json!({
                "doc": doc,
                "version_id": target_version.id,
                "before_restore_version_id": before.id,
                "seq": new_seq,
            });
            let mut tx = begin_write(self.inner.db.pool())
                .await
                .map_err(db_err(CX))?;
            describe_doc(&mut tx, doc, &mut data)
                .await
                .map_err(db_err(CX))?;
            let event = DomainEvent::new(Some(business), "doc.restored", doc, Some(&me), data);
            emit_in(&mut tx, &event).await.map_err(db_err(CX))?;
            tx.commit().await.map_err(db_err(CX))?;
            self.inner.events.notify();
        }
        Ok(Restored {
            doc: p.doc,
            version_id: target_version.id,
            restored: true,
            seq: new_seq,
            message: format!(
                "restored {what} as a new change; the previous content is version {}",
                before.id
            ),
            before_restore_version_id: Some(before.id),
        })
    }
}
