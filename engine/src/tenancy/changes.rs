//! The tenancy operations that change state: create, delete and verify a
//! business, add members, change roles and remove members (invitations are in
//! `invitations.rs`). Each change and its audit entry are one transaction; a
//! change that narrows someone's access is announced to the engine after it
//! commits.

use serde_json::json;

use super::ops::{AddMember, CreateBusiness, DONE, Done, UpdateBusiness};
use super::role::Role;
use super::store::{Business, Member, Tenancy, member_event};
use crate::audit::{AuditEvent, AuditLog, Outcome};
use crate::ops::{Ctx, OpError};
use crate::sql_store::begin_write;

pub(super) fn ip(ctx: &Ctx) -> Option<String> {
    ctx.caller.ip.map(|i| i.to_string())
}

pub(super) fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

impl Tenancy {
    pub(super) async fn create(&self, ctx: &Ctx, p: CreateBusiness) -> Result<Business, OpError> {
        let me = ctx.user()?.id.clone();
        // Its owner (none yet when the named owner has no account), and whether
        // the caller onboards it for someone else.
        let (owner, onboarding) = match &p.owner_email {
            None => (Some(me.clone()), false),
            Some(email) => match self.user_by_email(email.as_str()).await? {
                Some(id) if id == me => (Some(me.clone()), false),
                Some(id) => (Some(id), true),
                None => (None, true),
            },
        };
        let id = uuid::Uuid::now_v7().to_string();
        let now = Tenancy::now();
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("business.create"))?;
        sqlx::query(
            "INSERT INTO businesses (id, name, created_by, onboarding_agent, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(p.name.as_str())
        .bind(&me)
        .bind(onboarding.then_some(me.as_str()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err("business.create"))?;
        let mut members: Vec<(&str, Role)> = Vec::new();
        if let Some(owner) = &owner {
            members.push((owner, Role::Owner));
        }
        if onboarding {
            members.push((&me, Role::Agent));
        }
        for (user, role) in &members {
            sqlx::query(
                "INSERT INTO business_members (business_id, user_id, role, added_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&id)
            .bind(*user)
            .bind(role.as_str())
            .bind(&me)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err("business.create"))?;
        }
        let event = AuditEvent {
            actor: Some(&me),
            action: "business.created",
            target: Some(&id),
            outcome: Outcome::Ok,
            detail: json!({ "owner": owner, "onboarding_agent": onboarding.then_some(&me) }),
            ip: ip(ctx),
        };
        AuditLog::append_in(&mut tx, &event)
            .await
            .map_err(db_err("business.create"))?;
        tx.commit().await.map_err(db_err("business.create"))?;
        let role = if onboarding { Role::Agent } else { Role::Owner };
        self.business(&id, Some(role)).await
    }

    /// `business.update`: the new name and its audit entry, in one transaction.
    pub(super) async fn rename(&self, ctx: &Ctx, p: UpdateBusiness) -> Result<Business, OpError> {
        let me = ctx.user()?.id.clone();
        let business = p.business_id.as_str();
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("business.update"))?;
        sqlx::query("UPDATE businesses SET name = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(p.name.as_str())
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(db_err("business.update"))?;
        let detail = json!({ "name": p.name.as_str() });
        AuditLog::append_in(
            &mut tx,
            &member_event(&me, "business.renamed", business, detail, ip(ctx)),
        )
        .await
        .map_err(db_err("business.update"))?;
        tx.commit().await.map_err(db_err("business.update"))?;
        self.business(business, ctx.role()).await
    }

    pub(super) async fn delete(&self, ctx: &Ctx, business: &str) -> Result<Done, OpError> {
        let me = ctx.user()?.id.clone();
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("business.delete"))?;
        // Deleted and emptied under the business row's lock; the members told
        // are exactly the rows removed, including one who joined a moment ago.
        sqlx::query("UPDATE businesses SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(Tenancy::now())
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(db_err("business.delete"))?;
        let members: Vec<String> = sqlx::query_scalar(
            "DELETE FROM business_members WHERE business_id = $1 RETURNING user_id",
        )
        .bind(business)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err("business.delete"))?;
        AuditLog::append_in(
            &mut tx,
            &member_event(&me, "business.deleted", business, json!({}), ip(ctx)),
        )
        .await
        .map_err(db_err("business.delete"))?;
        tx.commit().await.map_err(db_err("business.delete"))?;
        for user in members {
            self.access_changed(&user);
        }
        // Workspace guests are not members: their open documents re-check too.
        self.engine.recheck_doc_sessions(&format!("biz/{business}"));
        Ok(DONE)
    }

    pub(super) async fn verify(&self, ctx: &Ctx, business: &str) -> Result<Business, OpError> {
        let me = ctx.user()?.id.clone();
        let changed = sqlx::query(
            "UPDATE businesses SET verified_at = $1, verified_by = $2 \
             WHERE id = $3 AND deleted_at IS NULL AND verified_at IS NULL",
        )
        .bind(Tenancy::now())
        .bind(&me)
        .bind(business)
        .execute(self.db.pool())
        .await
        .map_err(db_err("business.verify"))?
        .rows_affected();
        let b = self.business(business, None).await?;
        if changed == 1 {
            self.audit_event(member_event(
                &me,
                "business.verified",
                business,
                json!({}),
                ip(ctx),
            ))
            .await;
        }
        Ok(b)
    }

    pub(super) async fn add_member(&self, ctx: &Ctx, p: AddMember) -> Result<Member, OpError> {
        let me = ctx.user()?.id.clone();
        let my_role = ctx.role().unwrap_or(Role::Viewer);
        if !my_role.can_manage(p.role) {
            return Err(OpError::Forbidden(format!(
                "an {my_role} cannot grant the {} role",
                p.role
            )));
        }
        let user = self.user_by_email(p.email.as_str()).await?.ok_or_else(|| {
            OpError::invalid(
                "email",
                "no account has this email: invite them with member.invite instead",
            )
        })?;
        let business = p.business_id.as_str();
        let now = Tenancy::now();
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("member.add"))?;
        let added = sqlx::query(
            "INSERT INTO business_members (business_id, user_id, role, added_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (business_id, user_id) DO NOTHING",
        )
        .bind(business)
        .bind(&user)
        .bind(p.role.as_str())
        .bind(&me)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err("member.add"))?
        .rows_affected();
        if added == 0 {
            return Err(OpError::Conflict(
                "this account is already a member; change its role instead".into(),
            ));
        }
        let detail = json!({ "user": user, "role": p.role });
        AuditLog::append_in(
            &mut tx,
            &member_event(&me, "member.added", business, detail, ip(ctx)),
        )
        .await
        .map_err(db_err("member.add"))?;
        tx.commit().await.map_err(db_err("member.add"))?;
        self.access_changed(&user);
        self.members(business, true)
            .await?
            .into_iter()
            .find(|m| m.user_id == user)
            .ok_or_else(|| OpError::Internal("member vanished after being added".into()))
    }

    /// `member.set_role` (`Some`) and `member.remove` (`None`) by a manager.
    pub(super) async fn set_role(
        &self,
        ctx: &Ctx,
        business: &str,
        user: &str,
        role: Option<Role>,
    ) -> Result<Done, OpError> {
        let my_role = ctx.role().unwrap_or(Role::Viewer);
        let current = self
            .role(business, user)
            .await
            .map_err(db_err("member lookup"))?
            .ok_or_else(|| {
                OpError::NotFound(format!("`{user}` is not a member of this business"))
            })?;
        if !my_role.can_manage(current) || role.is_some_and(|r| !my_role.can_manage(r)) {
            return Err(OpError::Forbidden(format!(
                "an {my_role} cannot change a member who is or would become {}",
                role.filter(|r| *r > current).unwrap_or(current)
            )));
        }
        self.change_membership(ctx, business, user, role, true)
            .await
    }

    /// Sets (or with `None` removes) `user`'s membership, refusing to leave the
    /// business without an owner. The business row is locked first, so two
    /// concurrent demotions cannot both pass the last-owner check. With
    /// `managed` (a change by a manager, not a leave), the caller's right to
    /// make it is checked again under the lock, against the roles as they are
    /// now: a promotion to owner that won a race is not undone by an admin.
    pub(super) async fn change_membership(
        &self,
        ctx: &Ctx,
        business: &str,
        user: &str,
        role: Option<Role>,
        managed: bool,
    ) -> Result<Done, OpError> {
        let me = ctx.user()?.id.clone();
        let mut tx = begin_write(self.db.pool())
            .await
            .map_err(db_err("member change"))?;
        sqlx::query("UPDATE businesses SET name = name WHERE id = $1")
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(db_err("member change"))?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT role FROM business_members WHERE business_id = $1 AND user_id = $2",
        )
        .bind(business)
        .bind(user)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("member change"))?;
        let current = current.as_deref().and_then(Role::parse).ok_or_else(|| {
            OpError::NotFound(format!("`{user}` is not a member of this business"))
        })?;
        if managed {
            let mine: Option<String> = sqlx::query_scalar(
                "SELECT role FROM business_members WHERE business_id = $1 AND user_id = $2",
            )
            .bind(business)
            .bind(&me)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("member change"))?;
            let allowed = mine
                .as_deref()
                .and_then(Role::parse)
                .is_some_and(|r| r.can_manage(current) && role.is_none_or(|new| r.can_manage(new)));
            if !allowed {
                return Err(OpError::Forbidden(
                    "your role no longer allows this change".into(),
                ));
            }
        }
        if current == Role::Owner && role != Some(Role::Owner) {
            let owners: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM business_members WHERE business_id = $1 AND role = 'owner'",
            )
            .bind(business)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("member change"))?;
            if owners <= 1 {
                return Err(OpError::Conflict(
                    "a business needs an owner: make someone else owner first, or delete the business".into(),
                ));
            }
        }
        if role.is_none() {
            // A business onboarded for an owner who has not joined yet has only
            // its agent: that agent leaving would strand it with no one.
            let (members, owners): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN role = 'owner' THEN 1 ELSE 0 END), 0) \
                 FROM business_members WHERE business_id = $1",
            )
            .bind(business)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("member change"))?;
            if members <= 1 && owners == 0 {
                return Err(OpError::Conflict(
                    "this business has no owner yet: invite its owner (member.invite with role owner) before leaving"
                        .into(),
                ));
            }
        }
        let (action, detail) = match role {
            Some(r) => {
                sqlx::query("UPDATE business_members SET role = $1, updated_at = $2 WHERE business_id = $3 AND user_id = $4")
                    .bind(r.as_str())
                    .bind(Tenancy::now())
                    .bind(business)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("member change"))?;
                (
                    "member.role_changed",
                    json!({ "user": user, "from": current, "to": r }),
                )
            }
            None => {
                sqlx::query("DELETE FROM business_members WHERE business_id = $1 AND user_id = $2")
                    .bind(business)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("member change"))?;
                let action = if user == me {
                    "member.left"
                } else {
                    "member.removed"
                };
                (action, json!({ "user": user, "from": current }))
            }
        };
        AuditLog::append_in(
            &mut tx,
            &member_event(&me, action, business, detail, ip(ctx)),
        )
        .await
        .map_err(db_err("member change"))?;
        tx.commit().await.map_err(db_err("member change"))?;
        self.access_changed(user);
        Ok(DONE)
    }
}
