//! Workspaces: create, rename, archive and unarchive (owners and admins; the
//! registry checks the role), and list (members see every workspace, a guest
//! only those they are a guest of).

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::params::{
    CreateWorkspace, GuestAccess, ListWorkspaces, RenameWorkspace, Workspace, WorkspaceList,
    WorkspaceRef,
};
use super::standing::{Standing, standing};
use super::write::{Tx, db_err, me};
use super::{Workspaces, workspace_prefix};
use crate::ops::{Ctx, OpError};

/// The columns [`workspace_from`] reads, in order.
const COLUMNS: &str = "w.id, w.business_id, w.name, w.created_by, w.created_at, w.archived_at";

fn workspace_from(row: &AnyRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        id: row.try_get(0)?,
        business_id: row.try_get(1)?,
        name: row.try_get(2)?,
        created_by: row.try_get(3)?,
        created_at: row.try_get(4)?,
        archived_at: row.try_get(5)?,
        guest_access: None,
    })
}

/// The answer for a workspace that does not exist or is not the caller's to
/// see.
pub(super) fn no_workspace(id: &str) -> OpError {
    OpError::NotFound(format!("no workspace `{id}` in this business"))
}

impl Workspaces {
    /// Workspace `id` of `business`, if it exists.
    pub(super) async fn workspace(
        &self,
        business: &str,
        id: &str,
    ) -> Result<Option<Workspace>, OpError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspaces w WHERE w.id = $1 AND w.business_id = $2"
        ))
        .bind(id)
        .bind(business)
        .fetch_optional(self.db().pool())
        .await
        .map_err(db_err("workspace lookup"))?;
        row.as_ref()
            .map(workspace_from)
            .transpose()
            .map_err(db_err("workspace lookup"))
    }

    /// Workspace `id` of `business` in `tx`, locked against concurrent
    /// archiving where the database can (`FOR UPDATE` is not portable, so a
    /// no-op update takes the row lock on Postgres and the write lock on
    /// SQLite).
    pub(super) async fn workspace_in(
        tx: &mut Tx,
        business: &str,
        id: &str,
    ) -> Result<Option<Workspace>, OpError> {
        sqlx::query("UPDATE workspaces SET name = name WHERE id = $1 AND business_id = $2")
            .bind(id)
            .bind(business)
            .execute(&mut **tx)
            .await
            .map_err(db_err("workspace lookup"))?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspaces w WHERE w.id = $1 AND w.business_id = $2"
        ))
        .bind(id)
        .bind(business)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err("workspace lookup"))?;
        row.as_ref()
            .map(workspace_from)
            .transpose()
            .map_err(db_err("workspace lookup"))
    }

    /// `workspace.create`.
    pub(super) async fn create_workspace(
        &self,
        ctx: &Ctx,
        p: CreateWorkspace,
    ) -> Result<Workspace, OpError> {
        const CX: &str = "workspace.create";
        let ws = Workspace {
            id: uuid::Uuid::now_v7().to_string(),
            business_id: p.business_id.as_str().to_string(),
            name: p.name.into_string(),
            created_by: me(ctx)?,
            created_at: self.now(),
            archived_at: None,
            guest_access: None,
        };
        let mut tx = self.begin(CX).await?;
        sqlx::query(
            "INSERT INTO workspaces (id, business_id, name, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&ws.id)
        .bind(&ws.business_id)
        .bind(&ws.name)
        .bind(&ws.created_by)
        .bind(ws.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let data = json!({ "workspace_id": ws.id, "name": ws.name });
        self.event(
            &mut tx,
            &ws.business_id,
            "workspace.created",
            &ws.id,
            Some(&ws.created_by),
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(ws)
    }

    /// `workspace.rename`: nothing changes (and no event) for the same name.
    pub(super) async fn rename_workspace(
        &self,
        ctx: &Ctx,
        p: RenameWorkspace,
    ) -> Result<Workspace, OpError> {
        const CX: &str = "workspace.rename";
        let (business, id) = (p.business_id.as_str(), p.workspace_id.as_str());
        let mut tx = self.begin(CX).await?;
        let ws = Self::workspace_in(&mut tx, business, id)
            .await?
            .ok_or_else(|| no_workspace(id))?;
        if ws.name == p.name.as_str() {
            return Ok(ws);
        }
        sqlx::query("UPDATE workspaces SET name = $1 WHERE id = $2")
            .bind(p.name.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CX))?;
        let data = json!({ "workspace_id": id, "name": p.name.as_str(), "previous_name": ws.name });
        let actor = me(ctx)?;
        self.event(
            &mut tx,
            business,
            "workspace.renamed",
            id,
            Some(&actor),
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(Workspace {
            name: p.name.into_string(),
            ..ws
        })
    }

    /// `workspace.archive` (`archive`) and `workspace.unarchive`: only when
    /// the state changes (archiving an archived workspace returns it as it
    /// is). Open editors of its documents are re-checked after the commit,
    /// so they become read-only (or writable again) at once.
    pub(super) async fn set_workspace_archived(
        &self,
        ctx: &Ctx,
        p: WorkspaceRef,
        archive: bool,
    ) -> Result<Workspace, OpError> {
        let cx = if archive {
            "workspace.archive"
        } else {
            "workspace.unarchive"
        };
        let (business, id) = (p.business_id.as_str(), p.workspace_id.as_str());
        let mut tx = self.begin(cx).await?;
        let ws = Self::workspace_in(&mut tx, business, id)
            .await?
            .ok_or_else(|| no_workspace(id))?;
        if ws.archived_at.is_some() == archive {
            return Ok(ws);
        }
        let archived_at = archive.then(|| self.now());
        sqlx::query("UPDATE workspaces SET archived_at = $1 WHERE id = $2")
            .bind(archived_at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(cx))?;
        let kind = if archive {
            "workspace.archived"
        } else {
            "workspace.unarchived"
        };
        let actor = me(ctx)?;
        let data = json!({ "workspace_id": id, "name": ws.name });
        self.event(&mut tx, business, kind, id, Some(&actor), data)
            .await?;
        self.commit(tx, cx).await?;
        self.engine()
            .recheck_doc_sessions(&workspace_prefix(business, id));
        Ok(Workspace { archived_at, ..ws })
    }

    /// `workspace.list`: every workspace for a member; for a guest, the
    /// workspaces they are a guest of (with their access); `not_found` for
    /// anyone else.
    pub(super) async fn list_workspaces(
        &self,
        ctx: &Ctx,
        p: ListWorkspaces,
    ) -> Result<WorkspaceList, OpError> {
        const CX: &str = "workspace.list";
        let user = me(ctx)?;
        let business = p.business_id.as_str();
        let archived = if p.include_archived.unwrap_or(false) {
            ""
        } else {
            " AND w.archived_at IS NULL"
        };
        let member = matches!(
            standing(self.db(), business, "", &user)
                .await
                .map_err(db_err(CX))?,
            Standing::Member(_)
        );
        let workspaces = if member {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM workspaces w WHERE w.business_id = $1{archived} \
                 ORDER BY w.created_at, w.id"
            ))
            .bind(business)
            .fetch_all(self.db().pool())
            .await
            .map_err(db_err(CX))?
            .iter()
            .map(workspace_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(CX))?
        } else {
            self.guest_workspaces(business, &user, archived).await?
        };
        if !member && workspaces.is_empty() && !self.is_guest_anywhere(business, &user).await? {
            return Err(OpError::NotFound(format!(
                "business `{business}` not found"
            )));
        }
        Ok(WorkspaceList { workspaces })
    }

    /// The workspaces of `business` `user` is a guest of.
    async fn guest_workspaces(
        &self,
        business: &str,
        user: &str,
        archived: &str,
    ) -> Result<Vec<Workspace>, OpError> {
        const CX: &str = "workspace.list";
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, g.access FROM workspaces w \
             JOIN workspace_guests g ON g.workspace_id = w.id AND g.user_id = $2 \
             JOIN businesses b ON b.id = w.business_id \
             WHERE w.business_id = $1 AND b.deleted_at IS NULL{archived} \
             ORDER BY w.created_at, w.id"
        ))
        .bind(business)
        .bind(user)
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err(CX))?;
        rows.iter()
            .map(|r| {
                let access: String = r.try_get(6)?;
                Ok(Workspace {
                    guest_access: GuestAccess::parse(&access),
                    ..workspace_from(r)?
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err(CX))
    }

    /// Whether `user` is a guest of any workspace of (live) `business`.
    async fn is_guest_anywhere(&self, business: &str, user: &str) -> Result<bool, OpError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM workspace_guests g JOIN businesses b ON b.id = g.business_id \
             WHERE g.business_id = $1 AND g.user_id = $2 AND b.deleted_at IS NULL",
        )
        .bind(business)
        .bind(user)
        .fetch_one(self.db().pool())
        .await
        .map_err(db_err("workspace.list"))?;
        Ok(n > 0)
    }
}
