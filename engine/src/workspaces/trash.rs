//! Deleting documents: `doc.delete` puts a document in the trash (closed for
//! everyone, content kept), `doc.undelete` takes it back out within the grace
//! period, `doc.trash` lists the trash, and the purge removes documents past
//! the grace period with everything stored for them. All for owners and
//! admins; each change is audited.

use super::write::Change;
use serde_json::json;

use super::Workspaces;
use super::docs::{DOC_COLUMNS, Found, event_data};
use super::params::{BusinessRef, DocInfo, DocList, DocRef};
use super::write::{db_err, me};
use crate::comments::comment_topic;
use crate::ops::{Ctx, OpError};

/// What the purge deletes for a document, in order (`$1`: its name).
const PURGE: [&str; 8] = [
    "DELETE FROM doc_updates WHERE doc = $1",
    "DELETE FROM doc_snapshots WHERE doc = $1",
    "DELETE FROM doc_heads WHERE doc = $1",
    "DELETE FROM doc_versions WHERE doc = $1",
    "DELETE FROM doc_activity WHERE doc = $1",
    "DELETE FROM comments WHERE thread_id IN (SELECT id FROM comment_threads WHERE doc = $1)",
    "DELETE FROM comment_threads WHERE doc = $1",
    "DELETE FROM doc_redirects WHERE new_name = $1",
];

/// `forbidden` for members below admin.
fn managers_only(found: &Found, what: &str) -> Result<(), OpError> {
    if found.state.standing.manages() {
        Ok(())
    } else {
        Err(OpError::Forbidden(format!(
            "{what} documents is for owners and admins"
        )))
    }
}

impl Workspaces {
    /// `doc.delete`: into the trash. Its editors lose it at once (the room
    /// is retired and they re-check); deleting a deleted document returns it
    /// as it is.
    pub(super) async fn delete_doc(&self, ctx: &Ctx, p: DocRef) -> Result<DocInfo, OpError> {
        let found = self.find_doc(ctx, &p.doc).await?;
        managers_only(&found, "deleting")?;
        let doc = found.doc;
        if doc.deleted_at.is_some() {
            return Ok(doc);
        }
        let actor = me(ctx)?;
        let now = self.now();
        // Out of service first: no edit lands between the commit and the
        // retirement, and an undelete racing with this one reinstates it.
        if let Err(e) = self.engine().retire_doc(&doc.name).await {
            self.engine().reinstate_doc(&doc.name);
            return Err(OpError::Unavailable(format!(
                "the document could not be taken out of service to delete it ({e}); retry"
            )));
        }
        let name = doc.name.clone();
        match self.commit_delete(ctx, doc, &actor, now).await {
            Ok(doc) => {
                self.engine().recheck_doc_sessions(&name);
                Ok(doc)
            }
            Err(e) => {
                self.engine().reinstate_doc(&name);
                self.engine().recheck_doc_sessions(&name);
                Err(e)
            }
        }
    }

    /// The transaction of `doc.delete`: the row, its event and audit entry.
    async fn commit_delete(
        &self,
        ctx: &Ctx,
        doc: DocInfo,
        actor: &str,
        now: i64,
    ) -> Result<DocInfo, OpError> {
        const CX: &str = "doc.delete";
        let mut tx = self.begin(CX).await?;
        let changed = sqlx::query(
            "UPDATE docs SET deleted_at = $1, deleted_by = $2 WHERE name = $3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(actor)
        .bind(&doc.name)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if changed != 1 {
            return Err(OpError::Conflict(
                "the document changed meanwhile (moved or deleted); look it up again".into(),
            ));
        }
        let doc = DocInfo {
            deleted_at: Some(now),
            purge_at: Some(now.saturating_add(self.0.grace_ms)),
            ..doc
        };
        let mut data = event_data(&doc);
        data["purge_at"] = json!(doc.purge_at);
        self.record(
            &mut tx,
            Some(ctx),
            Some(actor),
            Change {
                business: &doc.business_id,
                kind: "doc.deleted",
                subject: &doc.name,
                audit_target: &doc.name,
            },
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(doc)
    }

    /// `doc.undelete`: out of the trash, within the grace period; a document
    /// that is not deleted is returned as it is.
    pub(super) async fn undelete_doc(&self, ctx: &Ctx, p: DocRef) -> Result<DocInfo, OpError> {
        const CX: &str = "doc.undelete";
        let found = self.find_doc(ctx, &p.doc).await?;
        managers_only(&found, "undeleting")?;
        let doc = found.doc;
        let Some(purge_at) = doc.purge_at else {
            return Ok(doc);
        };
        if purge_at <= self.now() {
            return Err(OpError::Conflict(format!(
                "document `{}` was deleted more than the grace period ago: it is being purged and cannot be undeleted",
                doc.name
            )));
        }
        let actor = me(ctx)?;
        let mut tx = self.begin(CX).await?;
        let changed = sqlx::query(
            "UPDATE docs SET deleted_at = NULL, deleted_by = NULL WHERE name = $1 AND deleted_at IS NOT NULL",
        )
        .bind(&doc.name)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if changed != 1 {
            return Err(OpError::Conflict(
                "the document changed meanwhile; look it up again".into(),
            ));
        }
        let doc = DocInfo {
            deleted_at: None,
            purge_at: None,
            ..doc
        };
        let data = event_data(&doc);
        self.record(
            &mut tx,
            Some(ctx),
            Some(&actor),
            Change {
                business: &doc.business_id,
                kind: "doc.undeleted",
                subject: &doc.name,
                audit_target: &doc.name,
            },
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        self.engine().reinstate_doc(&doc.name);
        Ok(doc)
    }

    /// `doc.trash`: the business's deleted documents, most recently deleted
    /// first, with when each is purged.
    pub(super) async fn trash(&self, p: BusinessRef) -> Result<DocList, OpError> {
        const CX: &str = "doc.trash";
        let rows = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM docs d WHERE d.business_id = $1 AND d.deleted_at IS NOT NULL \
             ORDER BY d.deleted_at DESC, d.id"
        ))
        .bind(p.business_id.as_str())
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err(CX))?;
        let docs = rows
            .iter()
            .map(|r| self.doc_from(r))
            .collect::<Result<_, _>>()
            .map_err(db_err(CX))?;
        Ok(DocList { docs })
    }

    /// Purges every document deleted longer than the grace period ago, with
    /// everything stored for it (log, snapshot, versions, edit activity,
    /// comments and their topic); returns how many.
    pub async fn purge_expired(&self) -> Result<u64, OpError> {
        const CX: &str = "document purge";
        let cutoff = self.now().saturating_sub(self.0.grace_ms);
        let due: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT name, id, business_id FROM docs WHERE deleted_at IS NOT NULL AND deleted_at <= $1",
        )
        .bind(cutoff)
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err(CX))?;
        let mut purged = 0;
        for (name, id, business) in due {
            // Normally long gone; a room reopened by nobody can still be live.
            if let Err(e) = self.engine().retire_doc(&name).await {
                self.engine().reinstate_doc(&name);
                return Err(OpError::Unavailable(e.to_string()));
            }
            let mut tx = self.begin(CX).await?;
            let gone = sqlx::query("DELETE FROM docs WHERE name = $1 AND deleted_at <= $2")
                .bind(&name)
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CX))?
                .rows_affected();
            if gone != 1 {
                // Undeleted (or purged) meanwhile.
                drop(tx);
                self.engine().reinstate_doc(&name);
                continue;
            }
            for sql in PURGE {
                sqlx::query(sql)
                    .bind(&name)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err(CX))?;
            }
            if let Some(topic) = comment_topic(&name) {
                for sql in [
                    "DELETE FROM topic_events WHERE topic = $1",
                    "DELETE FROM topics WHERE name = $1",
                ] {
                    sqlx::query(sql)
                        .bind(&topic)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err(CX))?;
                }
            }
            let data = json!({ "doc_id": id, "name": name });
            self.event(&mut tx, &business, "doc.purged", &name, None, data.clone())
                .await?;
            self.audit_in(&mut tx, None, None, "doc.purged", &name, data)
                .await?;
            self.commit(tx, CX).await?;
            self.engine().recheck_doc_sessions(&name);
            purged += 1;
        }
        Ok(purged)
    }
}
