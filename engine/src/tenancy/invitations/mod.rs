//! Invitations: a random token that makes whoever presents it a member of a
//! business with a role. They let admins bring in staff who have no account
//! yet, and an agent hand a business it onboarded to a new owner.
//!
//! There is no email sending or verification, so an email address proves
//! nothing: the token is the proof. It is shown once, to the inviter, who hands
//! it over (by SMS, on paper); only its SHA-256 is stored. It works once, for 7
//! days, unless revoked; the email an invitation may name is informational. An
//! unknown, expired, revoked or used token all answer `not_found`, so tokens
//! cannot be probed.
//!
//! Who may invite: members who may grant the role (`Role::can_manage`), and the
//! business's onboarding agent for the role `owner` while the business has no
//! owner. Accepting checks that again for the inviter, so an invitation dies
//! with its inviter's right to grant it (an agent's spare owner invitation stops
//! working once the business has an owner).
//!
//! `types.rs` holds the params, results and tokens; this module the handlers.

mod types;

use serde_json::json;

use types::no_invitation;
pub use types::*;

use super::changes::{db_err, ip};
use super::ops::{DONE, Done};
use super::role::Role;
use super::store::{Business, Tenancy, member_event};
use crate::audit::AuditLog;
use crate::ops::params::Email;
use crate::ops::{Ctx, HttpMethod, OpError, OpSpec, OpsBuilder, Permission};
use crate::sql_store::begin_write;

/// Whether `inviter` may grant `role` in `business` by the onboarding rule: it
/// is the business's onboarding agent, the role is owner, and the business has
/// no owner yet.
async fn hands_over(
    conn: &mut sqlx::AnyConnection,
    business: &str,
    inviter: &str,
    role: Role,
) -> Result<bool, sqlx::Error> {
    if role != Role::Owner {
        return Ok(false);
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM businesses b \
         WHERE b.id = $1 AND b.deleted_at IS NULL AND b.onboarding_agent = $2 \
         AND NOT EXISTS (SELECT 1 FROM business_members m \
                         WHERE m.business_id = b.id AND m.role = 'owner')",
    )
    .bind(business)
    .bind(inviter)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// `user`'s stored role in `business` on `conn`.
async fn role_on(
    conn: &mut sqlx::AnyConnection,
    business: &str,
    user: &str,
) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM business_members WHERE business_id = $1 AND user_id = $2",
    )
    .bind(business)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

impl Tenancy {
    /// Registers `member.invite` and the `invitation.*` operations.
    pub(super) fn register_invitation_ops(&self, ops: &mut OpsBuilder) {
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "member.invite",
                "Invite someone, with or without an account, to a business with a role: returns a single-use token valid 7 days (admins invite below owner, owners anyone; a business's onboarding agent may invite its first owner)",
                Permission::Member(Role::Agent),
                false,
            )
            .returns_secrets()
            .at(HttpMethod::Post, "/businesses/{business_id}/invitations"),
            move |ctx, p: InviteMember| {
                let t = t.clone();
                async move { t.invite(&ctx, p).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "invitation.accept",
                "Accept an invitation: the caller becomes a member with its role",
                Permission::User,
                false,
            )
            .at(HttpMethod::Post, "/invitations/accept"),
            move |ctx, p: AcceptInvitation| {
                let t = t.clone();
                async move { t.accept(&ctx, p).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::read(
                "invitation.list",
                "The pending invitations of a business (never their tokens)",
                Permission::Member(Role::Admin),
            )
            .at(HttpMethod::Get, "/businesses/{business_id}/invitations"),
            move |_ctx, p: InvitationsOf| {
                let t = t.clone();
                async move { t.invitations(p.business_id.as_str()).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "invitation.revoke",
                "Revoke a pending invitation",
                Permission::Member(Role::Admin),
                true,
            )
            .at(
                HttpMethod::Delete,
                "/businesses/{business_id}/invitations/{invitation_id}",
            ),
            move |ctx, p: InvitationRef| {
                let t = t.clone();
                async move { t.revoke(&ctx, p).await }
            },
        );
    }

    async fn invite(&self, ctx: &Ctx, p: InviteMember) -> Result<NewInvitation, OpError> {
        let me = ctx.user()?.id.clone();
        let my_role = ctx.role().unwrap_or(Role::Viewer);
        let business = p.business_id.as_str();
        if !my_role.can_manage(p.role) {
            let mut conn = self
                .db
                .pool()
                .acquire()
                .await
                .map_err(db_err("member.invite"))?;
            if !hands_over(&mut conn, business, &me, p.role)
                .await
                .map_err(db_err("member.invite"))?
            {
                return Err(OpError::Forbidden(format!(
                    "as {my_role} you cannot invite someone as {}{}",
                    p.role,
                    if p.role == Role::Owner && my_role == Role::Agent {
                        " (only the onboarding agent may, while the business has no owner)"
                    } else {
                        ""
                    }
                )));
            }
        }
        let id = uuid::Uuid::now_v7().to_string();
        let token = new_token();
        let now = Tenancy::now();
        let expires_at = now + INVITATION_TTL_MS;
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("member.invite"))?;
        sqlx::query(
            "INSERT INTO invitations \
             (id, token_hash, business_id, email, role, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(token_hash(&token))
        .bind(business)
        .bind(p.email.as_ref().map(Email::as_str))
        .bind(p.role.as_str())
        .bind(&me)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err("member.invite"))?;
        // (Never the email: the audit log holds no personal data.)
        let detail = json!({ "invitation": id, "role": p.role });
        AuditLog::append_in(
            &mut tx,
            &member_event(&me, "member.invited", business, detail, ip(ctx)),
        )
        .await
        .map_err(db_err("member.invite"))?;
        tx.commit().await.map_err(db_err("member.invite"))?;
        Ok(NewInvitation {
            invitation_id: id,
            token,
            role: p.role,
            expires_at,
        })
    }

    async fn accept(&self, ctx: &Ctx, p: AcceptInvitation) -> Result<Business, OpError> {
        let me = ctx.user()?.id.clone();
        let hash = token_hash(p.token.as_str());
        let business: String =
            sqlx::query_scalar("SELECT business_id FROM invitations WHERE token_hash = $1")
                .bind(&hash)
                .fetch_optional(self.db.pool())
                .await
                .map_err(db_err("invitation.accept"))?
                .ok_or_else(no_invitation)?;
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("invitation.accept"))?;
        // The business row first, as membership changes lock it: two accepts
        // of one token (or an accept and a demotion) run one after the other.
        let live =
            sqlx::query("UPDATE businesses SET name = name WHERE id = $1 AND deleted_at IS NULL")
                .bind(&business)
                .execute(&mut *tx)
                .await
                .map_err(db_err("invitation.accept"))?
                .rows_affected();
        if live == 0 {
            return Err(no_invitation());
        }
        let now = Tenancy::now();
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT id, role, invited_by FROM invitations WHERE token_hash = $1 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("invitation.accept"))?;
        let (id, role, inviter) = row.ok_or_else(no_invitation)?;
        let role = Role::parse(&role).ok_or_else(no_invitation)?;
        // An invitation is for someone else: an agent cannot make itself the
        // owner of a business it onboarded with its own owner invitation.
        if inviter == me {
            return Err(no_invitation());
        }
        // The inviter must still be allowed to grant the role.
        let inviter_role = role_on(&mut tx, &business, &inviter)
            .await
            .map_err(db_err("invitation.accept"))?;
        if !inviter_role.is_some_and(|r| r.can_manage(role))
            && !hands_over(&mut tx, &business, &inviter, role)
                .await
                .map_err(db_err("invitation.accept"))?
        {
            return Err(no_invitation());
        }
        let current = role_on(&mut tx, &business, &me)
            .await
            .map_err(db_err("invitation.accept"))?;
        match current {
            None => {
                sqlx::query(
                    "INSERT INTO business_members (business_id, user_id, role, added_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&business)
                .bind(&me)
                .bind(role.as_str())
                .bind(&inviter)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err("invitation.accept"))?;
            }
            Some(c) if role > c => {
                sqlx::query(
                    "UPDATE business_members SET role = $1, updated_at = $2 \
                     WHERE business_id = $3 AND user_id = $4",
                )
                .bind(role.as_str())
                .bind(now)
                .bind(&business)
                .bind(&me)
                .execute(&mut *tx)
                .await
                .map_err(db_err("invitation.accept"))?;
            }
            Some(c) => {
                return Err(OpError::Conflict(format!(
                    "you are already a member of this business as {c}; this invitation is for {role}"
                )));
            }
        }
        let used = sqlx::query(
            "UPDATE invitations SET accepted_at = $1, accepted_by = $2 \
             WHERE id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&me)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("invitation.accept"))?
        .rows_affected();
        if used != 1 {
            return Err(no_invitation());
        }
        let detail = json!({
            "invitation": id, "user": me, "role": role, "from": current, "invited_by": inviter,
        });
        AuditLog::append_in(
            &mut tx,
            &member_event(
                &me,
                "member.invitation_accepted",
                &business,
                detail,
                ip(ctx),
            ),
        )
        .await
        .map_err(db_err("invitation.accept"))?;
        tx.commit().await.map_err(db_err("invitation.accept"))?;
        self.access_changed(&me);
        self.business(&business, Some(role)).await
    }

    async fn invitations(&self, business: &str) -> Result<Invitations, OpError> {
        type Row = (String, Option<String>, String, String, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, email, role, invited_by, created_at, expires_at FROM invitations \
             WHERE business_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
             AND expires_at > $2 ORDER BY created_at, id",
        )
        .bind(business)
        .bind(Tenancy::now())
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err("invitation.list"))?;
        let invitations = rows
            .into_iter()
            .filter_map(|(id, email, role, invited_by, created_at, expires_at)| {
                Some(PendingInvitation {
                    invitation_id: id,
                    email,
                    role: Role::parse(&role)?,
                    invited_by,
                    created_at,
                    expires_at,
                })
            })
            .collect();
        Ok(Invitations { invitations })
    }

    async fn revoke(&self, ctx: &Ctx, p: InvitationRef) -> Result<Done, OpError> {
        let me = ctx.user()?.id.clone();
        let my_role = ctx.role().unwrap_or(Role::Viewer);
        let (business, id) = (p.business_id.as_str(), p.invitation_id.as_str());
        let not_found = || OpError::NotFound(format!("no pending invitation `{id}`"));
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM invitations WHERE id = $1 AND business_id = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(id)
        .bind(business)
        .bind(Tenancy::now())
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err("invitation.revoke"))?;
        let role = role
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(not_found)?;
        if !my_role.can_manage(role) {
            return Err(OpError::Forbidden(format!(
                "as {my_role} you cannot revoke an invitation for {role}"
            )));
        }
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("invitation.revoke"))?;
        let revoked = sqlx::query(
            "UPDATE invitations SET revoked_at = $1 \
             WHERE id = $2 AND business_id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(Tenancy::now())
        .bind(id)
        .bind(business)
        .execute(&mut *tx)
        .await
        .map_err(db_err("invitation.revoke"))?
        .rows_affected();
        if revoked != 1 {
            return Err(not_found());
        }
        let detail = json!({ "invitation": id, "role": role });
        AuditLog::append_in(
            &mut tx,
            &member_event(&me, "member.invitation_revoked", business, detail, ip(ctx)),
        )
        .await
        .map_err(db_err("invitation.revoke"))?;
        tx.commit().await.map_err(db_err("invitation.revoke"))?;
        Ok(DONE)
    }
}
