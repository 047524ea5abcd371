//! Who the caller is in a workspace, and what they may do with a workspace
//! document: the one rule the operations and the access policy share.
//!
//! - A member of the business (of a live business) acts by role: every role
//!   reads; `agent` and above edit (`Role::can_edit_docs`).
//! - A guest of the workspace reads (`read`) or edits (`write`) its documents,
//!   and nothing else of the business.
//! - Anyone else has nothing, and is told nothing exists.
//!
//! An archived document, or a document in an archived workspace, is read-only
//! for everyone; a deleted one is closed; a name a document moved away from
//! is refused with its new name, but only to someone who may open it there.
//! Everyone else gets one refusal, the same whether the name exists, moved or
//! never existed, so names cannot be probed.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::moves::parse_doc_name;
use super::params::GuestAccess;
use super::write::Tx;
use crate::access::{Grant, Refusal};
use crate::sql_store::SqlStore;
use crate::tenancy::Role;

/// The caller's standing in a business and one of its workspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A member, with their role.
    Member(Role),
    /// A guest of the workspace (not a member of the business).
    Guest(GuestAccess),
    /// Neither.
    Outsider,
}

impl Standing {
    /// From the stored role and guest access (membership wins).
    fn from_parts(role: Option<String>, guest: Option<String>) -> Standing {
        if let Some(role) = role.as_deref().and_then(Role::parse) {
            Standing::Member(role)
        } else if let Some(access) = guest.as_deref().and_then(GuestAccess::parse) {
            Standing::Guest(access)
        } else {
            Standing::Outsider
        }
    }

    /// Whether documents in the workspace may be opened at all.
    pub fn sees_docs(self) -> bool {
        !matches!(self, Standing::Outsider)
    }

    /// Whether documents in the workspace may be edited (and created).
    pub fn edits_docs(self) -> bool {
        match self {
            Standing::Member(role) => role.can_edit_docs(),
            Standing::Guest(access) => access == GuestAccess::Write,
            Standing::Outsider => false,
        }
    }

    /// Whether this is a member who may edit documents (moves and archiving
    /// are for members, not guests).
    pub fn member_editor(self) -> bool {
        matches!(self, Standing::Member(role) if role.can_edit_docs())
    }

    /// Whether this is an owner or an admin.
    pub fn manages(self) -> bool {
        matches!(self, Standing::Member(role) if role >= Role::Admin)
    }
}

/// The role subquery: `user` ($2) in the business in column `business`.
fn role_sql(business: &str) -> String {
    format!(
        "(SELECT m.role FROM business_members m JOIN businesses bm ON bm.id = m.business_id \
          WHERE m.business_id = {business} AND m.user_id = $2 AND bm.deleted_at IS NULL)"
    )
}

/// The guest subquery: `user` ($2) in the workspace in column `workspace`.
fn guest_sql(business: &str, workspace: &str) -> String {
    format!(
        "(SELECT g.access FROM workspace_guests g JOIN businesses bg ON bg.id = g.business_id \
          WHERE g.workspace_id = {workspace} AND g.business_id = {business} AND g.user_id = $2 \
          AND bg.deleted_at IS NULL)"
    )
}

/// `user`'s standing in `business` and its workspace `workspace` (`""`: no
/// workspace in particular, so only membership counts).
pub async fn standing(
    db: &SqlStore,
    business: &str,
    workspace: &str,
    user: &str,
) -> Result<Standing, sqlx::Error> {
    let sql = format!("SELECT {}, {}", role_sql("$1"), guest_sql("$1", "$3"));
    let row = sqlx::query(&sql)
        .bind(business)
        .bind(user)
        .bind(workspace)
        .fetch_one(db.pool())
        .await?;
    Ok(Standing::from_parts(row.try_get(0)?, row.try_get(1)?))
}

/// Whether `user` still manages `business` (owner or admin of a live
/// business), in `tx`. The business row is locked first, as membership
/// changes lock it, so a demotion and what `tx` does next are not interleaved.
pub(super) async fn manages_locked(
    tx: &mut Tx,
    business: &str,
    user: &str,
) -> Result<bool, sqlx::Error> {
    let live =
        sqlx::query("UPDATE businesses SET name = name WHERE id = $1 AND deleted_at IS NULL")
            .bind(business)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if live == 0 {
        return Ok(false);
    }
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM business_members WHERE business_id = $1 AND user_id = $2",
    )
    .bind(business)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(Standing::from_parts(role, None).manages())
}

/// A workspace document's state, with the caller's standing.
#[derive(Debug, Clone)]
pub struct DocState {
    /// Its stable id.
    pub id: String,
    /// Its business.
    pub business_id: String,
    /// Its workspace.
    pub workspace_id: String,
    /// Whether it is archived.
    pub archived: bool,
    /// Whether its workspace is archived.
    pub workspace_archived: bool,
    /// Whether it is deleted (in the trash).
    pub deleted: bool,
    /// The caller's standing (outsider when the business is deleted).
    pub standing: Standing,
    /// Set while it is being moved (or a move was interrupted): its new name.
    pub moving_to: Option<String>,
}

impl DocState {
    /// Whether it is read-only for everyone (archived, or its workspace is).
    pub fn frozen(&self) -> bool {
        self.archived || self.workspace_archived
    }

    fn from_row(row: &AnyRow) -> Result<DocState, sqlx::Error> {
        let business_deleted: Option<i64> = row.try_get(8)?;
        let standing = if business_deleted.is_some() {
            Standing::Outsider
        } else {
            Standing::from_parts(row.try_get(6)?, row.try_get(7)?)
        };
        Ok(DocState {
            id: row.try_get(0)?,
            business_id: row.try_get(1)?,
            workspace_id: row.try_get(2)?,
            archived: row.try_get::<Option<i64>, _>(3)?.is_some(),
            deleted: row.try_get::<Option<i64>, _>(4)?.is_some(),
            workspace_archived: row.try_get::<Option<i64>, _>(5)?.is_some(),
            standing,
            moving_to: row.try_get(9)?,
        })
    }
}

/// Document `name` and `user`'s standing in its workspace, in one query;
/// `None` when no document has this name.
pub async fn doc_state(
    db: &SqlStore,
    name: &str,
    user: &str,
) -> Result<Option<DocState>, sqlx::Error> {
    let sql = format!(
        "SELECT d.id, d.business_id, d.workspace_id, d.archived_at, d.deleted_at, w.archived_at, \
         {}, {}, b.deleted_at, \
         (SELECT r.new_name FROM doc_redirects r WHERE r.old_name = d.name) \
         FROM docs d JOIN workspaces w ON w.id = d.workspace_id \
         JOIN businesses b ON b.id = d.business_id WHERE d.name = $1",
        role_sql("d.business_id"),
        guest_sql("d.business_id", "d.workspace_id")
    );
    let row = sqlx::query(&sql)
        .bind(name)
        .bind(user)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(DocState::from_row).transpose()
}

/// Where document `name` moved to, if it did.
pub async fn redirect(db: &SqlStore, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT new_name FROM doc_redirects WHERE old_name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await
}

/// The refusal for a name a document moved away from.
pub fn moved_refusal(name: &str, to: &str) -> Refusal {
    Refusal::Forbidden(format!(
        "document `{name}` was moved to `{to}`: open it there"
    ))
}

/// The one refusal for a workspace document the caller may not open: the
/// same whether it exists or not.
pub fn no_doc_refusal(name: &str) -> Refusal {
    Refusal::Forbidden(format!(
        "no document `{name}` you can open (workspace documents are made with doc.create)"
    ))
}

/// The refusal for `name`, which moved (or is moving) to `to`: naming `to`
/// only to a caller who may open the document there.
async fn moved_or_hidden(
    db: &SqlStore,
    name: &str,
    to: &str,
    user: &str,
) -> Result<Refusal, sqlx::Error> {
    let opens = match doc_state(db, to, user).await? {
        Some(there) => there.standing.sees_docs() && !there.deleted,
        // Still being moved: no document has the new name yet, so the
        // caller's standing in the workspace it is going to decides.
        None => match parse_doc_name(to) {
            Some((business, workspace, _)) => {
                standing(db, business, workspace, user).await?.sees_docs()
            }
            None => false,
        },
    };
    Ok(if opens {
        moved_refusal(name, to)
    } else {
        no_doc_refusal(name)
    })
}

/// The grant `user` has on workspace document `name` (see the module
/// overview), for [`crate::access::NamespacePolicy`].
pub async fn doc_grant(db: &SqlStore, name: &str, user: &str) -> Result<Grant, Refusal> {
    let unavailable = |e: sqlx::Error| {
        tracing::warn!(error = %e, "workspace document access lookup failed");
        Refusal::Unavailable("access could not be checked; retry".into())
    };
    let Some(state) = doc_state(db, name, user).await.map_err(unavailable)? else {
        return Err(match redirect(db, name).await.map_err(unavailable)? {
            Some(to) => moved_or_hidden(db, name, &to, user)
                .await
                .map_err(unavailable)?,
            None => no_doc_refusal(name),
        });
    };
    if let Some(to) = &state.moving_to {
        return Err(moved_or_hidden(db, name, to, user)
            .await
            .map_err(unavailable)?);
    }
    if !state.standing.sees_docs() {
        return Err(no_doc_refusal(name));
    }
    if state.deleted {
        return Err(Refusal::Forbidden(format!("document `{name}` was deleted")));
    }
    if state.frozen() || !state.standing.edits_docs() {
        return Ok(Grant::ReadOnly);
    }
    Ok(Grant::ReadWrite)
}
