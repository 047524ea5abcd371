//! The tenancy operations: create and list businesses, manage members and
//! roles, verify (platform admins), and an agent's attributions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::role::Role;
use super::store::{Business, Member, Tenancy, member_event};
use crate::audit::{AuditEvent, AuditLog, Outcome};
use crate::ops::params::{Email, Id, Text};
use crate::ops::{Ctx, HttpMethod, OpError, OpSpec, OpsBuilder, Permission};

/// A business name.
type Name = Text<1, 120>;

/// Params of `business.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBusiness {
    /// The business's name.
    pub name: Name,
    /// When an agent creates a business for its owner: the owner's account email.
    /// The owner becomes `owner`; the caller becomes `agent` and is recorded as
    /// the onboarding agent.
    #[serde(default)]
    pub owner_email: Option<Email>,
}

/// Params naming a business.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessRef {
    /// The business.
    pub business_id: Id,
}

/// Params of `business.update`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBusiness {
    /// The business.
    pub business_id: Id,
    /// Its new name.
    pub name: Name,
}

/// Params of `member.add`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The business.
    pub business_id: Id,
    /// The account to add.
    pub email: Email,
    /// The role to give.
    pub role: Role,
}

/// Params of `member.set_role`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    /// The business.
    pub business_id: Id,
    /// The member.
    pub user_id: Id,
    /// The new role.
    pub role: Role,
}

/// Params naming a member.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    /// The business.
    pub business_id: Id,
    /// The member.
    pub user_id: Id,
}

/// No params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A list of businesses.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Businesses {
    /// The businesses.
    pub businesses: Vec<Business>,
}

/// A list of members.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Members {
    /// The members.
    pub members: Vec<Member>,
}

/// Acknowledges a change.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

const DONE: Done = Done { ok: true };

fn ip(ctx: &Ctx) -> Option<String> {
    ctx.caller.ip.map(|i| i.to_string())
}

fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

impl Tenancy {
    /// Registers the tenancy operations.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        let t = self.clone();
        ops.register(
            OpSpec::write("business.create", "Create a business; the caller becomes its owner, or its onboarding agent when naming another owner", Permission::User, false)
                .at(HttpMethod::Post, "/businesses"),
            move |ctx, p: CreateBusiness| {
                let t = t.clone();
                async move { t.create(&ctx, p).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::read(
                "business.list",
                "The businesses the caller belongs to, with their role in each",
                Permission::User,
            )
            .at(HttpMethod::Get, "/businesses"),
            move |ctx, _: NoParams| {
                let t = t.clone();
                async move {
                    let user = ctx.user()?.id.clone();
                    Ok(Businesses {
                        businesses: t.businesses_of(&user).await?,
                    })
                }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::read(
                "business.get",
                "One business the caller belongs to",
                Permission::Member(Role::Viewer),
            )
            .at(HttpMethod::Get, "/businesses/{business_id}"),
            move |ctx, p: BusinessRef| {
                let t = t.clone();
                async move { t.business(p.business_id.as_str(), ctx.role()).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "business.update",
                "Rename a business",
                Permission::Member(Role::Admin),
                true,
            )
            .at(HttpMethod::Patch, "/businesses/{business_id}"),
            move |ctx, p: UpdateBusiness| {
                let t = t.clone();
                async move {
                    sqlx::query(
                        "UPDATE businesses SET name = $1 WHERE id = $2 AND deleted_at IS NULL",
                    )
                    .bind(p.name.as_str())
                    .bind(p.business_id.as_str())
                    .execute(t.db.pool())
                    .await
                    .map_err(db_err("business.update"))?;
                    t.business(p.business_id.as_str(), ctx.role()).await
                }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "business.delete",
                "Delete a business and end every membership in it",
                Permission::Member(Role::Owner),
                true,
            )
            .at(HttpMethod::Delete, "/businesses/{business_id}"),
            move |ctx, p: BusinessRef| {
                let t = t.clone();
                async move { t.delete(&ctx, p.business_id.as_str()).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "business.verify",
                "Mark a business as verified",
                Permission::PlatformAdmin,
                true,
            )
            .at(HttpMethod::Post, "/businesses/{business_id}/verify"),
            move |ctx, p: BusinessRef| {
                let t = t.clone();
                async move { t.verify(&ctx, p.business_id.as_str()).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::read(
                "member.list",
                "The members of a business (emails for admins and owners)",
                Permission::Member(Role::Viewer),
            )
            .at(HttpMethod::Get, "/businesses/{business_id}/members"),
            move |ctx, p: BusinessRef| {
                let t = t.clone();
                async move {
                    let with_email = ctx.role().is_some_and(|r| r >= Role::Admin);
                    Ok(Members {
                        members: t.members(p.business_id.as_str(), with_email).await?,
                    })
                }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "member.add",
                "Add an existing account to a business with a role",
                Permission::Member(Role::Admin),
                false,
            )
            .at(HttpMethod::Post, "/businesses/{business_id}/members"),
            move |ctx, p: AddMember| {
                let t = t.clone();
                async move { t.add_member(&ctx, p).await }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "member.set_role",
                "Change a member's role",
                Permission::Member(Role::Admin),
                true,
            )
            .at(
                HttpMethod::Patch,
                "/businesses/{business_id}/members/{user_id}",
            ),
            move |ctx, p: SetRole| {
                let t = t.clone();
                async move {
                    t.set_role(
                        &ctx,
                        p.business_id.as_str(),
                        p.user_id.as_str(),
                        Some(p.role),
                    )
                    .await
                }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "member.remove",
                "Remove a member from a business",
                Permission::Member(Role::Admin),
                true,
            )
            .at(
                HttpMethod::Delete,
                "/businesses/{business_id}/members/{user_id}",
            ),
            move |ctx, p: MemberRef| {
                let t = t.clone();
                async move {
                    t.set_role(&ctx, p.business_id.as_str(), p.user_id.as_str(), None)
                        .await
                }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::write(
                "member.leave",
                "Leave a business (its last owner cannot)",
                Permission::Member(Role::Viewer),
                true,
            )
            .at(HttpMethod::Post, "/businesses/{business_id}/leave"),
            move |ctx, p: BusinessRef| {
                let t = t.clone();
                async move {
                    let me = ctx.user()?.id.clone();
                    t.change_membership(&ctx, p.business_id.as_str(), &me, None)
                        .await
                }
            },
        );
        let t = self.clone();
        ops.register(
            OpSpec::read(
                "agent.attributions",
                "The businesses the caller onboarded as their agent",
                Permission::User,
            )
            .at(HttpMethod::Get, "/agent/attributions"),
            move |ctx, _: NoParams| {
                let t = t.clone();
                async move {
                    let me = ctx.user()?.id.clone();
                    Ok(Businesses {
                        businesses: t.attributions_of(&me).await?,
                    })
                }
            },
        );
    }

    async fn create(&self, ctx: &Ctx, p: CreateBusiness) -> Result<Business, OpError> {
        let me = ctx.user()?.id.clone();
        let owner = match &p.owner_email {
            Some(email) => {
                let id = self.user_by_email(email.as_str()).await?.ok_or_else(|| {
                    OpError::invalid(
                        "owner_email",
                        "no account has this email; the owner registers first",
                    )
                })?;
                (id != me).then_some(id)
            }
            None => None,
        };
        let id = uuid::Uuid::now_v7().to_string();
        let now = Tenancy::now();
        let mut tx = self
            .db
            .pool()
            .begin()
            .await
            .map_err(db_err("business.create"))?;
        sqlx::query(
            "INSERT INTO businesses (id, name, created_by, onboarding_agent, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(p.name.as_str())
        .bind(&me)
        .bind(owner.as_ref().map(|_| me.as_str()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err("business.create"))?;
        let mut members = vec![(owner.clone().unwrap_or_else(|| me.clone()), Role::Owner)];
        if owner.is_some() {
            members.push((me.clone(), Role::Agent));
        }
        for (user, role) in &members {
            sqlx::query(
                "INSERT INTO business_members (business_id, user_id, role, added_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&id)
            .bind(user)
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
            detail: json!({ "owner": members[0].0, "onboarding_agent": owner.as_ref().map(|_| &me) }),
            ip: ip(ctx),
        };
        AuditLog::append_in(&mut *tx, &event)
            .await
            .map_err(db_err("business.create"))?;
        tx.commit().await.map_err(db_err("business.create"))?;
        let role = if owner.is_some() {
            Role::Agent
        } else {
            Role::Owner
        };
        self.business(&id, Some(role)).await
    }

    async fn delete(&self, ctx: &Ctx, business: &str) -> Result<Done, OpError> {
        let me = ctx.user()?.id.clone();
        let members = self.members(business, false).await?;
        let mut tx = self
            .db
            .pool()
            .begin()
            .await
            .map_err(db_err("business.delete"))?;
        sqlx::query("UPDATE businesses SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(Tenancy::now())
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(db_err("business.delete"))?;
        sqlx::query("DELETE FROM business_members WHERE business_id = $1")
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(db_err("business.delete"))?;
        AuditLog::append_in(
            &mut *tx,
            &member_event(&me, "business.deleted", business, json!({}), ip(ctx)),
        )
        .await
        .map_err(db_err("business.delete"))?;
        tx.commit().await.map_err(db_err("business.delete"))?;
        for m in members {
            self.access_changed(&m.user_id);
        }
        Ok(DONE)
    }

    async fn verify(&self, ctx: &Ctx, business: &str) -> Result<Business, OpError> {
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

    async fn add_member(&self, ctx: &Ctx, p: AddMember) -> Result<Member, OpError> {
        let me = ctx.user()?.id.clone();
        let my_role = ctx.role().unwrap_or(Role::Viewer);
        if !my_role.can_manage(p.role) {
            return Err(OpError::Forbidden(format!(
                "an {my_role} cannot grant the {} role",
                p.role
            )));
        }
        let user = self.user_by_email(p.email.as_str()).await?.ok_or_else(|| {
            OpError::invalid("email", "no account has this email; they register first")
        })?;
        let business = p.business_id.as_str();
        let now = Tenancy::now();
        let mut tx = self.db.pool().begin().await.map_err(db_err("member.add"))?;
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
            &mut *tx,
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
    async fn set_role(
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
        self.change_membership(ctx, business, user, role).await
    }

    /// Sets (or with `None` removes) `user`'s membership, refusing to leave the
    /// business without an owner. The business row is locked first, so two
    /// concurrent demotions cannot both pass the last-owner check.
    async fn change_membership(
        &self,
        ctx: &Ctx,
        business: &str,
        user: &str,
        role: Option<Role>,
    ) -> Result<Done, OpError> {
        let me = ctx.user()?.id.clone();
        let mut tx = self
            .db
            .pool()
            .begin()
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
            &mut *tx,
            &member_event(&me, action, business, detail, ip(ctx)),
        )
        .await
        .map_err(db_err("member change"))?;
        tx.commit().await.map_err(db_err("member change"))?;
        self.access_changed(user);
        Ok(DONE)
    }
}
