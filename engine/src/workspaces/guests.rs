//! Guests: people who are not members of a business, with read or write
//! access to one of its workspaces (a marketing partner on the campaign
//! plan), and nothing else of the business.
//!
//! An owner or admin invites by email: the invitation carries a random token
//! shown once (only its SHA-256 is stored), works until it expires (7 days by
//! default, 30 at most) and only for the account whose email is the invited
//! one (there is no mail sending yet: the inviter hands the token over). An
//! unknown, expired, revoked or used token all answer `not_found`, and so does
//! one whose inviter no longer manages the business (as for members). Members
//! need no guest access: inviting one, or a member accepting, is a
//! `conflict`. Removing a guest or changing their access is live: their open
//! documents are closed or downgraded at once.

use super::write::Change;
use serde_json::json;
use sqlx::Row;

use super::Workspaces;
use super::params::{
    AcceptGuest, Guest, GuestAccess, GuestInvitationRef, GuestRef, Guests, InviteGuest,
    NewGuestInvitation, PendingGuestInvitation, SetGuestAccess, Workspace, WorkspaceRef,
};
use super::spaces::no_workspace;
use super::standing::{Standing, manages_locked, standing};
use super::write::{db_err, me};
use crate::audit::email_pseudonym;
use crate::ops::{Ctx, OpError};
use crate::tenancy::invitations::{new_token, token_hash};
use crate::tenancy::ops::Done;

/// Default lifetime of a guest invitation, hours (7 days).
pub const DEFAULT_INVITATION_HOURS: u32 = 7 * 24;

/// Longest lifetime of a guest invitation, hours (30 days).
pub const MAX_INVITATION_HOURS: u32 = 30 * 24;

const HOUR_MS: i64 = 3600 * 1000;

/// The one answer for a token that does not work, whatever the reason.
fn no_invitation() -> OpError {
    OpError::NotFound("no such invitation: it may have expired, been used or been revoked".into())
}

fn not_a_guest(user: &str) -> OpError {
    OpError::NotFound(format!("`{user}` is not a guest of this workspace"))
}

impl Workspaces {
    /// `guest.invite` (owners and admins).
    pub(super) async fn invite_guest(
        &self,
        ctx: &Ctx,
        p: InviteGuest,
    ) -> Result<NewGuestInvitation, OpError> {
        const CX: &str = "guest.invite";
        let hours = p.expires_in_hours.unwrap_or(DEFAULT_INVITATION_HOURS);
        if !(1..=MAX_INVITATION_HOURS).contains(&hours) {
            return Err(OpError::invalid(
                "expires_in_hours",
                format!("must be 1 to {MAX_INVITATION_HOURS} hours (30 days), got {hours}"),
            ));
        }
        let (business, workspace) = (p.business_id.as_str(), p.workspace_id.as_str());
        self.workspace(business, workspace)
            .await?
            .ok_or_else(|| no_workspace(workspace))?;
        let email = p.email.as_str();
        let account: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE LOWER(email) = $1 AND deleted = 0")
                .bind(email)
                .fetch_optional(self.db().pool())
                .await
                .map_err(db_err(CX))?;
        if let Some(user) = account {
            match standing(self.db(), business, workspace, &user)
                .await
                .map_err(db_err(CX))?
            {
                Standing::Member(role) => {
                    return Err(OpError::Conflict(format!(
                        "`{email}` is a member of this business ({role}) and needs no guest access"
                    )));
                }
                Standing::Guest(_) => {
                    return Err(OpError::Conflict(format!(
                        "`{email}` is already a guest of this workspace: change their access with guest.set_access"
                    )));
                }
                Standing::Outsider => {}
            }
        }
        let actor = me(ctx)?;
        let now = self.now();
        let token = new_token();
        let invitation = NewGuestInvitation {
            invitation_id: uuid::Uuid::now_v7().to_string(),
            token,
            business_id: business.to_string(),
            workspace_id: workspace.to_string(),
            email: email.to_string(),
            access: p.access,
            expires_at: now.saturating_add(i64::from(hours) * HOUR_MS),
        };
        let mut tx = self.begin(CX).await?;
        sqlx::query(
            "INSERT INTO guest_invitations (id, token_hash, business_id, workspace_id, email, \
             access, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&invitation.invitation_id)
        .bind(token_hash(&invitation.token))
        .bind(business)
        .bind(workspace)
        .bind(email)
        .bind(p.access.as_str())
        .bind(&actor)
        .bind(now)
        .bind(invitation.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let detail = json!({
            "invitation": invitation.invitation_id, "workspace_id": workspace,
            "access": p.access, "email": email_pseudonym(email),
        });
        self.audit_in(
            &mut tx,
            Some(&actor),
            Some(ctx),
            "workspace.guest_invited",
            business,
            detail,
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(invitation)
    }

    /// `guest.accept`: the caller, whose email must be the invited one,
    /// becomes a guest of the workspace.
    pub(super) async fn accept_guest(
        &self,
        ctx: &Ctx,
        p: AcceptGuest,
    ) -> Result<Workspace, OpError> {
        const CX: &str = "guest.accept";
        let user = me(ctx)?;
        let now = self.now();
        let row = sqlx::query(
            "SELECT i.id, i.business_id, i.workspace_id, i.email, i.access, i.invited_by \
             FROM guest_invitations i JOIN businesses b ON b.id = i.business_id \
             WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL \
             AND i.expires_at > $2 AND b.deleted_at IS NULL AND EXISTS (SELECT 1 FROM \
             business_members m WHERE m.business_id = i.business_id \
             AND m.user_id = i.invited_by AND m.role IN ('owner', 'admin'))",
        )
        .bind(token_hash(p.token.as_str()))
        .bind(now)
        .fetch_optional(self.db().pool())
        .await
        .map_err(db_err(CX))?
        .ok_or_else(no_invitation)?;
        let get = |i| row.try_get::<String, _>(i).map_err(db_err(CX));
        let (id, business, workspace) = (get(0)?, get(1)?, get(2)?);
        let (email, access, inviter) = (get(3)?, get(4)?, get(5)?);
        let access = GuestAccess::parse(&access).ok_or_else(no_invitation)?;
        let mine: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND deleted = 0")
                .bind(&user)
                .fetch_optional(self.db().pool())
                .await
                .map_err(db_err(CX))?;
        let matches = mine
            .flatten()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(email.trim()));
        if !matches {
            return Err(OpError::Forbidden(
                "this invitation is for another email address: sign in with the account it was sent to"
                    .into(),
            ));
        }
        if let Standing::Member(role) = standing(self.db(), &business, &workspace, &user)
            .await
            .map_err(db_err(CX))?
        {
            return Err(OpError::Conflict(format!(
                "you are already a member of this business ({role}): you need no guest access"
            )));
        }
        let mut tx = self.begin(CX).await?;
        // The inviter must still manage the business (checked above, again
        // here against a demotion meanwhile).
        if !manages_locked(&mut tx, &business, &inviter)
            .await
            .map_err(db_err(CX))?
        {
            return Err(no_invitation());
        }
        let used = sqlx::query(
            "UPDATE guest_invitations SET accepted_at = $1, accepted_by = $2 \
             WHERE id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&user)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if used != 1 {
            return Err(no_invitation());
        }
        sqlx::query(
            "INSERT INTO workspace_guests (workspace_id, user_id, business_id, access, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, user_id) \
             DO UPDATE SET access = excluded.access, granted_by = excluded.granted_by, \
             granted_at = excluded.granted_at",
        )
        .bind(&workspace)
        .bind(&user)
        .bind(&business)
        .bind(access.as_str())
        .bind(&inviter)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let data = json!({ "workspace_id": workspace, "user_id": user, "access": access });
        self.event(
            &mut tx,
            &business,
            "workspace.guest_added",
            &workspace,
            Some(&user),
            data,
        )
        .await?;
        let detail = json!({ "invitation": id, "workspace_id": workspace, "user": user, "access": access, "invited_by": inviter });
        self.audit_in(
            &mut tx,
            Some(&user),
            Some(ctx),
            "workspace.guest_added",
            &business,
            detail,
        )
        .await?;
        self.commit(tx, CX).await?;
        self.engine().access_changed(&user);
        let ws = self
            .workspace(&business, &workspace)
            .await?
            .ok_or_else(|| no_workspace(&workspace))?;
        Ok(Workspace {
            guest_access: Some(access),
            ..ws
        })
    }

    /// `guest.list` (owners and admins): the workspace's guests and pending
    /// invitations.
    pub(super) async fn list_guests(&self, p: WorkspaceRef) -> Result<Guests, OpError> {
        const CX: &str = "guest.list";
        let (business, workspace) = (p.business_id.as_str(), p.workspace_id.as_str());
        self.workspace(business, workspace)
            .await?
            .ok_or_else(|| no_workspace(workspace))?;
        let guests = self.guests(business, workspace, "").await?;
        type InvitationRow = (String, String, String, String, i64, i64);
        let invitations: Vec<InvitationRow> = sqlx::query_as(
            "SELECT id, email, access, invited_by, created_at, expires_at FROM guest_invitations \
             WHERE workspace_id = $1 AND business_id = $2 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $3 ORDER BY created_at, id",
        )
        .bind(workspace)
        .bind(business)
        .bind(self.now())
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err(CX))?;
        let invitations = invitations
            .into_iter()
            .filter_map(|(id, email, access, invited_by, created_at, expires_at)| {
                Some(PendingGuestInvitation {
                    invitation_id: id,
                    email,
                    access: GuestAccess::parse(&access)?,
                    invited_by,
                    created_at,
                    expires_at,
                })
            })
            .collect();
        Ok(Guests {
            workspace_id: workspace.to_string(),
            guests,
            invitations,
        })
    }

    /// The guests of `workspace`, in the order they joined (only `user`,
    /// unless it is empty).
    async fn guests(
        &self,
        business: &str,
        workspace: &str,
        user: &str,
    ) -> Result<Vec<Guest>, OpError> {
        type GuestRow = (String, String, Option<String>, String, String, i64);
        let rows: Vec<GuestRow> = sqlx::query_as(
            "SELECT g.user_id, u.display_name, u.email, g.access, g.granted_by, g.granted_at \
             FROM workspace_guests g JOIN users u ON u.id = g.user_id \
             WHERE g.workspace_id = $1 AND g.business_id = $2 AND ($3 = '' OR g.user_id = $3) \
             ORDER BY g.granted_at, g.user_id",
        )
        .bind(workspace)
        .bind(business)
        .bind(user)
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err("guest lookup"))?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(user_id, display_name, email, access, granted_by, granted_at)| {
                    Some(Guest {
                        user_id,
                        display_name,
                        email,
                        access: GuestAccess::parse(&access)?,
                        granted_by,
                        granted_at,
                    })
                },
            )
            .collect())
    }

    /// `guest.set_access` (owners and admins); live for the guest's open
    /// documents. The same access again changes nothing.
    pub(super) async fn set_guest_access(
        &self,
        ctx: &Ctx,
        p: SetGuestAccess,
    ) -> Result<Guest, OpError> {
        const CX: &str = "guest.set_access";
        let (business, workspace, user) = (
            p.business_id.as_str(),
            p.workspace_id.as_str(),
            p.user_id.as_str(),
        );
        let guest = self
            .guests(business, workspace, user)
            .await?
            .pop()
            .ok_or_else(|| not_a_guest(user))?;
        if guest.access == p.access {
            return Ok(guest);
        }
        let mut tx = self.begin(CX).await?;
        let changed = sqlx::query(
            "UPDATE workspace_guests SET access = $1 WHERE workspace_id = $2 AND business_id = $3 AND user_id = $4",
        )
        .bind(p.access.as_str())
        .bind(workspace)
        .bind(business)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if changed != 1 {
            return Err(not_a_guest(user));
        }
        let actor = me(ctx)?;
        let data = json!({ "workspace_id": workspace, "user_id": user, "access": p.access, "previous_access": guest.access });
        self.record(
            &mut tx,
            Some(ctx),
            Some(&actor),
            Change {
                business,
                kind: "workspace.guest_access_changed",
                subject: workspace,
                audit_target: business,
            },
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        self.engine().access_changed(user);
        Ok(Guest {
            access: p.access,
            ..guest
        })
    }

    /// `guest.remove` (owners and admins): the guest loses the workspace at
    /// once, open documents included.
    pub(super) async fn remove_guest(&self, ctx: &Ctx, p: GuestRef) -> Result<Done, OpError> {
        const CX: &str = "guest.remove";
        let (business, workspace, user) = (
            p.business_id.as_str(),
            p.workspace_id.as_str(),
            p.user_id.as_str(),
        );
        let mut tx = self.begin(CX).await?;
        let removed = sqlx::query(
            "DELETE FROM workspace_guests WHERE workspace_id = $1 AND business_id = $2 AND user_id = $3",
        )
        .bind(workspace)
        .bind(business)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if removed != 1 {
            return Err(not_a_guest(user));
        }
        let actor = me(ctx)?;
        let data = json!({ "workspace_id": workspace, "user_id": user });
        self.record(
            &mut tx,
            Some(ctx),
            Some(&actor),
            Change {
                business,
                kind: "workspace.guest_removed",
                subject: workspace,
                audit_target: business,
            },
            data,
        )
        .await?;
        self.commit(tx, CX).await?;
        self.engine().access_changed(user);
        Ok(Done { ok: true })
    }

    /// `guest.invitation.revoke` (owners and admins): a pending invitation
    /// stops working.
    pub(super) async fn revoke_guest_invitation(
        &self,
        ctx: &Ctx,
        p: GuestInvitationRef,
    ) -> Result<Done, OpError> {
        const CX: &str = "guest.invitation.revoke";
        let (business, id) = (p.business_id.as_str(), p.invitation_id.as_str());
        let now = self.now();
        let mut tx = self.begin(CX).await?;
        let revoked = sqlx::query(
            "UPDATE guest_invitations SET revoked_at = $1 WHERE id = $2 AND business_id = $3 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .bind(business)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?
        .rows_affected();
        if revoked != 1 {
            return Err(OpError::NotFound(format!(
                "no pending guest invitation `{id}`"
            )));
        }
        let actor = me(ctx)?;
        self.audit_in(
            &mut tx,
            Some(&actor),
            Some(ctx),
            "workspace.guest_invitation_revoked",
            business,
            json!({ "invitation": id }),
        )
        .await?;
        self.commit(tx, CX).await?;
        Ok(Done { ok: true })
    }
}
