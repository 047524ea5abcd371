//! The tenancy operations: their params and results, and their registration
//! (the handlers that change state are in `changes.rs`): create and list
//! businesses, manage members and roles, verify (platform admins), and an
//! agent's attributions. Invitations are in `invitations.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::role::Role;
use super::store::{Business, Member, Tenancy};
use crate::ops::params::{Email, Id, Text};
use crate::ops::{HttpMethod, OpSpec, OpsBuilder, Permission};

/// A business name.
type Name = Text<1, 120>;

/// Params of `business.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBusiness {
    /// The business's name.
    pub name: Name,
    /// When an agent creates a business for its owner: the owner's email. The
    /// caller becomes `agent` and is recorded as the onboarding agent. If an
    /// account has this email, it becomes `owner`; if none does, the business
    /// has no owner yet: the agent then invites one with `member.invite`
    /// (role `owner`) and hands them the token.
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

pub(super) const DONE: Done = Done { ok: true };

impl Tenancy {
    /// Registers the tenancy operations.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        let t = self.clone();
        ops.register(
            OpSpec::write("business.create", "Create a business; the caller becomes its owner, or its onboarding agent when naming another owner (with no account yet: no owner until one accepts an invitation)", Permission::User, false)
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
                async move { t.rename(&ctx, p).await }
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
                "Add an existing account to a business with a role (to bring in someone without an account, use member.invite)",
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
                    t.change_membership(&ctx, p.business_id.as_str(), &me, None, false)
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
        self.register_invitation_ops(ops);
    }
}
