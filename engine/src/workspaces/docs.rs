//! Documents in workspaces: create, list, look up, rename, archive and
//! unarchive. Who may do what is in the module overview of `standing`;
//! `doc.create` and `doc.rename` need edit rights (members from `agent` up,
//! guests with `write`), archiving needs a member who edits documents.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::params::{CreateDoc, DocInfo, DocKind, DocList, DocRef, ListDocs, RenameDoc};
use super::spaces::no_workspace;
use super::standing::{DocState, Standing, doc_state, redirect, standing};
use super::write::{db_err, me};
use super::{Workspaces, doc_name};
use crate::ops::{Ctx, OpError};

/// The columns [`Workspaces::doc_from`] reads, in order.
pub(super) const DOC_COLUMNS: &str = "d.id, d.name, d.business_id, d.workspace_id, d.title, \
     d.kind, d.created_by, d.created_at, d.last_edited_at, d.last_edited_by, d.size_bytes, \
     d.archived_at, d.deleted_at";

/// The answer for a document that does not exist or that the caller may not
/// see.
pub(super) fn no_doc(name: &str) -> OpError {
    OpError::NotFound(format!("no document `{name}` you can open"))
}

/// A document the caller may see, with its state.
pub(super) struct Found {
    pub doc: DocInfo,
    pub state: DocState,
}

impl Workspaces {
    pub(super) fn doc_from(&self, row: &AnyRow) -> Result<DocInfo, sqlx::Error> {
        let kind: String = row.try_get(5)?;
        let deleted_at: Option<i64> = row.try_get(12)?;
        Ok(DocInfo {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            business_id: row.try_get(2)?,
            workspace_id: row.try_get(3)?,
            title: row.try_get(4)?,
            kind: DocKind::parse(&kind),
            created_by: row.try_get(6)?,
            created_at: row.try_get(7)?,
            last_edited_at: row.try_get(8)?,
            last_edited_by: row.try_get(9)?,
            size_bytes: row.try_get(10)?,
            archived_at: row.try_get(11)?,
            deleted_at,
            purge_at: deleted_at.map(|at| at.saturating_add(self.0.grace_ms)),
        })
    }

    /// Document `name` as stored, if it exists.
    pub(super) async fn doc_row(&self, name: &str) -> Result<Option<DocInfo>, OpError> {
        let row = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM docs d WHERE d.name = $1"
        ))
        .bind(name)
        .fetch_optional(self.db().pool())
        .await
        .map_err(db_err("document lookup"))?;
        row.as_ref()
            .map(|r| self.doc_from(r))
            .transpose()
            .map_err(db_err("document lookup"))
    }

    /// Document `name` if the caller may see it: a member of its business or
    /// a guest of its workspace; a deleted one only for owners and admins.
    /// Otherwise `not_found`, naming where it went when it moved and the
    /// caller may see it there.
    pub(super) async fn find_doc(&self, ctx: &Ctx, name: &str) -> Result<Found, OpError> {
        let user = me(ctx)?;
        let state = doc_state(self.db(), name, &user)
            .await
            .map_err(db_err("document lookup"))?;
        let Some(state) = state else {
            return Err(self.moved_or_missing(name, &user).await);
        };
        let visible = state.standing.sees_docs() && (!state.deleted || state.standing.manages());
        if !visible {
            return Err(no_doc(name));
        }
        let doc = self.doc_row(name).await?.ok_or_else(|| no_doc(name))?;
        Ok(Found { doc, state })
    }

    /// `not_found` for `name`, saying where it moved if the caller may see it
    /// there.
    async fn moved_or_missing(&self, name: &str, user: &str) -> OpError {
        let Ok(Some(to)) = redirect(self.db(), name).await else {
            return no_doc(name);
        };
        match doc_state(self.db(), &to, user).await {
            Ok(Some(s)) if s.standing.sees_docs() && !s.deleted => OpError::NotFound(format!(
                "document `{name}` was moved to `{to}`: use that name"
            )),
            _ => no_doc(name),
        }
    }

    /// `doc.create`: a new document in a workspace, for members who edit
    /// documents and guests with write access; not in an archived workspace.
    pub(super) async fn create_doc(&self, ctx: &Ctx, p: CreateDoc) -> Result<DocInfo, OpError> {
        const CX: &str = "doc.create";
        let user = me(ctx)?;
        let (business, workspace) = (p.business_id.as_str(), p.workspace_id.as_str());
        let who = standing(self.db(), business, workspace, &user)
            .await
            .map_err(db_err(CX))?;
        let exists = self.workspace(business, workspace).await?.is_some();
        if !exists || !who.sees_docs() {
            return Err(match who {
                Standing::Outsider => OpError::NotFound(format!("business `{business}` not found")),
                _ => no_workspace(workspace),
            });
        }
        if !who.edits_docs() {
            return Err(OpError::Forbidden(
                "you may read this workspace's documents but not create them".into(),
            ));
        }
        let mut tx = self.begin(CX).await?;
        let ws = Self::workspace_in(&mut tx, business, workspace)
            .await?
            .ok_or_else(|| no_workspace(workspace))?;
        if ws.archived_at.is_some() {
            return Err(OpError::Conflict(format!(
                "workspace `{}` is archived: unarchive it to add documents",
                ws.name
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let doc = DocInfo {
            name: doc_name(business, workspace, &id),
            id,
            business_id: business.to_string(),
            workspace_id: workspace.to_string(),
            title: p.title.into_string(),
            kind: p.kind,
            created_by: user.clone(),
            created_at: self.now(),
            last_edited_at: None,
            last_edited_by: None,
            size_bytes: 0,
            archived_at: None,
            deleted_at: None,
            purge_at: None,
        };
        sqlx::query(
            "INSERT INTO docs (name, id, business_id, workspace_id, title, kind, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&doc.name)
        .bind(&doc.id)
        .bind(&doc.business_id)
        .bind(&doc.workspace_id)
        .bind(&doc.title)
        .bind(doc.kind.as_str())
        .bind(&doc.created_by)
        .bind(doc.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        self.event(
            &mut tx,
            business,
            "doc.created",
            &doc.name,
            Some(&user),
            event_data(&doc),
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(doc)
    }

    /// `doc.list`: the workspace's documents (not deleted; archived ones on
    /// request), oldest first, for its members and guests.
    pub(super) async fn list_docs(&self, ctx: &Ctx, p: ListDocs) -> Result<DocList, OpError> {
        const CX: &str = "doc.list";
        let user = me(ctx)?;
        let (business, workspace) = (p.business_id.as_str(), p.workspace_id.as_str());
        let who = standing(self.db(), business, workspace, &user)
            .await
            .map_err(db_err(CX))?;
        if !who.sees_docs() {
            return Err(OpError::NotFound(format!(
                "business `{business}` not found"
            )));
        }
        if self.workspace(business, workspace).await?.is_none() {
            return Err(no_workspace(workspace));
        }
        let archived = if p.include_archived.unwrap_or(false) {
            ""
        } else {
            " AND d.archived_at IS NULL"
        };
        let rows = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM docs d WHERE d.workspace_id = $1 AND d.business_id = $2 \
             AND d.deleted_at IS NULL{archived} ORDER BY d.created_at, d.id"
        ))
        .bind(workspace)
        .bind(business)
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

    /// `doc.info`.
    pub(super) async fn doc_info(&self, ctx: &Ctx, p: DocRef) -> Result<DocInfo, OpError> {
        Ok(self.find_doc(ctx, &p.doc).await?.doc)
    }

    /// `doc.rename`: a new title (nothing changes, and no event, for the same
    /// one). Needs edit rights; an archived document keeps its title.
    pub(super) async fn rename_doc(&self, ctx: &Ctx, p: RenameDoc) -> Result<DocInfo, OpError> {
        const CX: &str = "doc.rename";
        let Found { doc, state } = self.find_doc(ctx, &p.doc).await?;
        if !state.standing.edits_docs() {
            return Err(OpError::Forbidden(
                "you may read this document but not rename it".into(),
            ));
        }
        live_and_thawed(&doc, &state)?;
        if doc.title == p.title.as_str() {
            return Ok(doc);
        }
        let mut tx = self.begin(CX).await?;
        let changed = sqlx::query(
            "UPDATE docs SET title = $1 WHERE name = $2 AND deleted_at IS NULL \
             AND archived_at IS NULL",
        )
        .bind(p.title.as_str())
        .bind(&doc.name)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if changed != 1 {
            return Err(OpError::Conflict(
                "the document changed meanwhile (archived, deleted or moved); look it up again"
                    .into(),
            ));
        }
        let previous = doc.title.clone();
        let renamed = DocInfo {
            title: p.title.into_string(),
            ..doc
        };
        let mut data = event_data(&renamed);
        data["previous_title"] = json!(previous);
        let actor = me(ctx)?;
        self.event(
            &mut tx,
            &renamed.business_id,
            "doc.renamed",
            &renamed.name,
            Some(&actor),
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(renamed)
    }

    /// `doc.archive` (`archive`) and `doc.unarchive`, by members who edit
    /// documents: archived, a document is read-only for everyone and hidden
    /// from the default list. Only when the state changes; open editors are
    /// re-checked after the commit.
    pub(super) async fn set_doc_archived(
        &self,
        ctx: &Ctx,
        p: DocRef,
        archive: bool,
    ) -> Result<DocInfo, OpError> {
        let cx = if archive {
            "doc.archive"
        } else {
            "doc.unarchive"
        };
        let Found { doc, state } = self.find_doc(ctx, &p.doc).await?;
        if !state.standing.member_editor() {
            return Err(OpError::Forbidden(
                "archiving documents is for members who edit documents".into(),
            ));
        }
        if state.deleted {
            return Err(OpError::Conflict(format!(
                "document `{}` is deleted: undelete it first",
                doc.name
            )));
        }
        if state.archived == archive {
            return Ok(doc);
        }
        let archived_at = archive.then(|| self.now());
        let mut tx = self.begin(cx).await?;
        let changed =
            sqlx::query("UPDATE docs SET archived_at = $1 WHERE name = $2 AND deleted_at IS NULL")
                .bind(archived_at)
                .bind(&doc.name)
                .execute(&mut *tx)
                .await
                .map_err(db_err(cx))?
                .rows_affected();
        if changed != 1 {
            return Err(OpError::Conflict(
                "the document changed meanwhile (deleted or moved); look it up again".into(),
            ));
        }
        let doc = DocInfo { archived_at, ..doc };
        let kind = if archive {
            "doc.archived"
        } else {
            "doc.unarchived"
        };
        let actor = me(ctx)?;
        self.event(
            &mut tx,
            &doc.business_id,
            kind,
            &doc.name,
            Some(&actor),
            event_data(&doc),
        )
        .await?;
        self.commit(tx, cx).await?;
        self.engine().recheck_doc_sessions(&doc.name);
        Ok(doc)
    }
}

/// What a domain event about `doc` carries.
pub(super) fn event_data(doc: &DocInfo) -> serde_json::Value {
    json!({
        "doc_id": doc.id,
        "name": doc.name,
        "title": doc.title,
        "kind": doc.kind,
        "workspace_id": doc.workspace_id,
    })
}

/// `conflict` unless `doc` is live (not deleted) and writable (neither it nor
/// its workspace archived).
pub(super) fn live_and_thawed(doc: &DocInfo, state: &DocState) -> Result<(), OpError> {
    if state.deleted {
        return Err(OpError::Conflict(format!(
            "document `{}` is deleted: undelete it first",
            doc.name
        )));
    }
    if state.archived {
        return Err(OpError::Conflict(format!(
            "document `{}` is archived (read-only): unarchive it first",
            doc.name
        )));
    }
    if state.workspace_archived {
        return Err(OpError::Conflict(
            "its workspace is archived (read-only): unarchive the workspace first".into(),
        ));
    }
    Ok(())
}
