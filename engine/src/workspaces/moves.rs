//! `doc.move`: a document goes to another workspace of its business, which
//! renames it (`biz/{b}/ws/{from}/{id}` becomes `biz/{b}/ws/{to}/{id}`).
//!
//! 1. A redirect from the old name to the new one is written first: from then
//!    on the access policy refuses the old name ("moved to ..."), so no editor
//!    can reopen it and write under a name about to disappear.
//! 2. The engine retires the live room: later writes are refused, and it
//!    returns once everything accepted is durable.
//! 3. One transaction checks again that the target workspace is not archived
//!    (it is locked, so an archive waits), renames every row stored for the
//!    document (`docs`, its update log and snapshot, versions, edit activity,
//!    comment threads and its comments topic), re-points older redirects to
//!    the new name and writes `doc.moved`.
//! 4. Open editors re-check their access: the old name is refused with a
//!    message naming the new one (to those who may open it there).
//!
//! If step 2 or 3 fails, the redirect is removed again and the document stays
//! where it was, its open editors carrying on. If the server dies between 1 and 3, the document is
//! unreachable until housekeeping finishes the move (a redirect whose old
//! name still has a `docs` row is an interrupted move).

use serde_json::json;

use super::docs::{Found, event_data, no_doc};
use super::params::{DocInfo, MoveDoc};
use super::spaces::no_workspace;
use super::write::{db_err, me};
use super::{Workspaces, doc_name};
use crate::comments::comment_topic;
use crate::ops::{Ctx, OpError};

/// The tables whose `doc` column names a document, renamed with it.
const DOC_TABLES: [&str; 6] = [
    "doc_updates",
    "doc_snapshots",
    "doc_heads",
    "doc_versions",
    "doc_activity",
    "comment_threads",
];

/// The business, workspace and id in a workspace document name.
pub(super) fn parse_doc_name(name: &str) -> Option<(&str, &str, &str)> {
    let rest = name.strip_prefix("biz/")?;
    let (business, rest) = rest.split_once("/ws/")?;
    let (workspace, id) = rest.split_once('/')?;
    let ok = |s: &str| !s.is_empty() && !s.contains('/');
    (ok(business) && ok(workspace) && ok(id)).then_some((business, workspace, id))
}

impl Workspaces {
    /// `doc.move`, by members who edit documents; moving a document to its
    /// own workspace returns it as it is.
    pub(super) async fn move_doc(&self, ctx: &Ctx, p: MoveDoc) -> Result<DocInfo, OpError> {
        const CX: &str = "doc.move";
        let Found { doc, state } = self.find_doc(ctx, &p.doc).await?;
        if !state.standing.member_editor() {
            return Err(OpError::Forbidden(
                "moving documents is for members who edit documents".into(),
            ));
        }
        if state.deleted {
            return Err(OpError::Conflict(format!(
                "document `{}` is deleted: undelete it first",
                doc.name
            )));
        }
        if state.moving_to.is_some() {
            return Err(OpError::Conflict(
                "this document is being moved; look it up again shortly".into(),
            ));
        }
        let target = p.workspace_id.as_str();
        if target == doc.workspace_id {
            return Ok(doc);
        }
        let ws = self
            .workspace(&doc.business_id, target)
            .await?
            .ok_or_else(|| no_workspace(target))?;
        if ws.archived_at.is_some() || state.workspace_archived {
            return Err(OpError::Conflict(
                "documents cannot move into or out of an archived workspace: unarchive it first"
                    .into(),
            ));
        }
        let old = doc.name.clone();
        let new = doc_name(&doc.business_id, target, &doc.id);
        let marked = sqlx::query(
            "INSERT INTO doc_redirects (old_name, new_name, at) VALUES ($1, $2, $3) \
             ON CONFLICT (old_name) DO NOTHING",
        )
        .bind(&old)
        .bind(&new)
        .bind(self.now())
        .execute(self.db().pool())
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if marked != 1 {
            return Err(OpError::Conflict(
                "this document is being moved; look it up again shortly".into(),
            ));
        }
        let actor = me(ctx)?;
        let moved = match self.engine().retire_doc(&old).await {
            Ok(()) => self.finish_move(&old, &new, Some(&actor), true).await,
            Err(e) => Err(OpError::Unavailable(format!(
                "the document could not be taken out of service to move it ({e}); retry"
            ))),
        };
        let moved = match moved {
            Ok(moved) => moved,
            Err(e) => {
                self.unmark_move(&old).await;
                // Back in service as it was: its editors carry on.
                self.engine().reinstate_doc(&old);
                self.engine().recheck_doc_sessions(&old);
                return Err(e);
            }
        };
        // The new name may be a former one (moved back): usable again.
        self.engine().reinstate_doc(&new);
        self.engine().doc_renamed(&old, &new);
        self.engine().recheck_doc_sessions(&old);
        match moved {
            Some(doc) => Ok(doc),
            // Finished by housekeeping meanwhile.
            None => self.doc_row(&new).await?.ok_or_else(|| no_doc(&new)),
        }
    }

    /// Removes the redirect that marks `old` as moving, if the document is
    /// still there (the move did not happen).
    async fn unmark_move(&self, old: &str) {
        let r = sqlx::query(
            "DELETE FROM doc_redirects WHERE old_name = $1 \
             AND EXISTS (SELECT 1 FROM docs WHERE name = $1)",
        )
        .bind(old)
        .execute(self.db().pool())
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, doc = old, "cannot undo a failed move's redirect; housekeeping will finish the move");
        }
    }

    /// Step 3 of a move (see the module overview): renames everything stored
    /// for `old` to `new` in one transaction. `None` if no document is called
    /// `old` any more (the move was finished already). With `check_target`
    /// (a user's move) the target workspace is locked and must still be a
    /// live workspace of the business: `conflict` otherwise. Housekeeping
    /// finishing an interrupted move does not check: the redirect already
    /// promised the new name.
    async fn finish_move(
        &self,
        old: &str,
        new: &str,
        actor: Option<&str>,
        check_target: bool,
    ) -> Result<Option<DocInfo>, OpError> {
        const CX: &str = "doc.move";
        let Some((business, workspace, _)) = parse_doc_name(new) else {
            return Err(OpError::Internal(format!(
                "`{new}` is not a workspace document name"
            )));
        };
        let mut tx = self.begin(CX).await?;
        // First, the document's head row (created if it was never written):
        // a commit on any node that is numbering updates for the old name
        // holds it, so this waits for that commit and then moves its rows
        // too; a commit after this one finds the name moved and is refused
        // (see `sql_store/doc_log.rs`).
        sqlx::query(
            "INSERT INTO doc_heads (doc, seq) VALUES ($1, 0) \
             ON CONFLICT (doc) DO UPDATE SET seq = doc_heads.seq",
        )
        .bind(old)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        if check_target {
            // `move_doc` looked before the redirect and the retirement; the
            // workspace may have been archived since. Locked as `doc.create`
            // does, so an archive now waits for this transaction.
            let target = Self::workspace_in(&mut tx, business, workspace).await?;
            if target.is_none_or(|ws| ws.archived_at.is_some()) {
                return Err(OpError::Conflict(format!(
                    "workspace `{workspace}` was archived or removed meanwhile: the document stays where it was"
                )));
            }
        }
        let moved = sqlx::query("UPDATE docs SET name = $1, workspace_id = $2 WHERE name = $3")
            .bind(new)
            .bind(workspace)
            .bind(old)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CX))?
            .rows_affected();
        if moved != 1 {
            return Ok(None);
        }
        for table in DOC_TABLES {
            sqlx::query(&format!("UPDATE {table} SET doc = $1 WHERE doc = $2"))
                .bind(new)
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CX))?;
        }
        if let (Some(from), Some(to)) = (comment_topic(old), comment_topic(new)) {
            for sql in [
                "UPDATE topics SET name = $1 WHERE name = $2",
                "UPDATE topic_events SET topic = $1 WHERE topic = $2",
            ] {
                sqlx::query(sql)
                    .bind(&to)
                    .bind(&from)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err(CX))?;
            }
        }
        // The document may come back to a name it had: that name is no longer
        // a redirect. Every other old name now leads here.
        sqlx::query("DELETE FROM doc_redirects WHERE old_name = $1")
            .bind(new)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CX))?;
        sqlx::query("UPDATE doc_redirects SET new_name = $1 WHERE new_name = $2")
            .bind(new)
            .bind(old)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CX))?;
        sqlx::query(
            "INSERT INTO doc_redirects (old_name, new_name, at) VALUES ($1, $2, $3) \
             ON CONFLICT (old_name) DO UPDATE SET new_name = excluded.new_name",
        )
        .bind(old)
        .bind(new)
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM docs d WHERE d.name = $1",
            super::docs::DOC_COLUMNS
        ))
        .bind(new)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let doc = self.doc_from(&row).map_err(db_err(CX))?;
        let mut data = event_data(&doc);
        data["previous_name"] = json!(old);
        data["from_workspace_id"] = json!(parse_doc_name(old).map(|(_, w, _)| w));
        self.event(&mut tx, business, "doc.moved", new, actor, data)
            .await?;
        self.commit(tx, CX).await?;
        Ok(Some(doc))
    }

    /// Finishes every move a crash interrupted (see the module overview);
    /// returns how many.
    pub async fn finish_interrupted_moves(&self) -> Result<u64, OpError> {
        let pending: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.old_name, r.new_name FROM doc_redirects r \
             JOIN docs d ON d.name = r.old_name",
        )
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err("interrupted moves"))?;
        let mut done = 0;
        for (old, new) in pending {
            if let Err(e) = self.engine().retire_doc(&old).await {
                // Tried again at the next pass: the redirect keeps the old
                // name refused meanwhile.
                return Err(OpError::Unavailable(e.to_string()));
            }
            let finished = self.finish_move(&old, &new, None, false).await;
            self.engine().reinstate_doc(&new);
            if matches!(finished, Ok(Some(_))) {
                self.engine().doc_renamed(&old, &new);
            }
            if finished?.is_some() {
                done += 1;
                tracing::info!(from = %old, to = %new, "an interrupted document move was finished");
            }
            self.engine().recheck_doc_sessions(&old);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_document_names_split_into_their_parts() {
        assert_eq!(parse_doc_name("biz/b1/ws/w1/d1"), Some(("b1", "w1", "d1")));
        for bad in [
            "biz/b1/inventory",
            "biz/b1/ws/w1",
            "biz/b1/ws/w1/d1/x",
            "biz//ws/w/d",
        ] {
            assert_eq!(parse_doc_name(bad), None, "{bad}");
        }
    }
}
