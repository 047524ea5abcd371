//! The identity operations as the registry serves them: their params (which
//! validate themselves and refuse unknown fields), their results, and their
//! registration with permissions and REST routes under `/api`.
//!
//! | Operation | Permission | REST |
//! |---|---|---|
//! | `auth.register` | public | `POST /auth/register` |
//! | `auth.login` | public | `POST /auth/login` |
//! | `auth.refresh` | public | `POST /auth/refresh` |
//! | `auth.logout` | user | `POST /auth/logout` |
//! | `auth.change_password` | user | `POST /auth/password` |
//! | `me.get` | user | `GET /me` |
//! | `me.export` | user | `GET /me/export` |
//! | `me.delete` | user | `DELETE /me` |
//! | `user.suspend` | platform admin | `POST /users/{user_id}/suspend` |
//! | `user.unsuspend` | platform admin | `POST /users/{user_id}/unsuspend` |
//! | `audit.list` | platform admin | `GET /audit` |

use std::fmt;

use goonline_engine::audit::AuditEntry;
use goonline_engine::ops::params::{Email, Id, Password, Text, lenient_i64, lenient_u32};
use goonline_engine::ops::{HttpMethod, OpSpec, OpsBuilder, Permission};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Identity;
use super::accounts::UserView;
use super::tokens::TokenPair;

/// A display name.
pub type DisplayName = Text<1, 100>;

/// Params of `auth.register`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The account's email (its sign-in name).
    pub email: Email,
    /// The password, 8 to 256 characters.
    pub password: Password,
    /// The name others see.
    pub display_name: DisplayName,
}

/// Params of `auth.login`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's email.
    pub email: Email,
    /// Its password.
    pub password: Password,
}

/// Params of `auth.refresh`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// The refresh token from the last sign-in or refresh.
    pub refresh_token: Text<1, 256>,
}

impl fmt::Debug for Refresh {
    // A refresh token is a credential: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Refresh { refresh_token: *** }")
    }
}

/// Params of `auth.change_password`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password now.
    pub current_password: Password,
    /// The password from now on.
    pub new_password: Password,
}

/// Params naming a user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRefParams {
    /// The user.
    pub user_id: Id,
}

/// Params of `audit.list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditList {
    /// Only entries older than this id (the previous page's `next_before`).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub before: Option<i64>,
    /// Most entries to return: 1 to 500, default 100.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub limit: Option<u32>,
    /// Only entries with this action, e.g. `auth.login`.
    #[serde(default)]
    pub action: Option<Text<1, 100>>,
}

/// No params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A signed-in user and their tokens.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SignedIn {
    /// The account.
    pub user: UserView,
    /// The tokens (`access_token`, `refresh_token`, `expires_in`, `token_type`).
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Acknowledges a change.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

/// A user's suspension state after `user.suspend` / `user.unsuspend`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Suspension {
    /// The user.
    pub user_id: String,
    /// Whether they are suspended now.
    pub suspended: bool,
}

/// One page of the audit log.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// Everything stored about the caller (`me.export`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Export {
    /// When this export was made, epoch ms.
    pub exported_at: i64,
    /// The account.
    pub account: AccountExport,
    /// Every sign-in session, revoked ones included (tokens are never stored
    /// in the clear and never exported).
    pub sessions: Vec<SessionExport>,
    /// Memberships in businesses, with roles.
    pub memberships: Vec<MembershipExport>,
    /// Linked external sign-in accounts.
    pub external_identities: Vec<ExternalIdentityExport>,
    /// Audit entries of actions the user took.
    pub audit: Vec<AuditEntry>,
}

/// The account's stored fields (the password hash only as a yes/no).
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountExport {
    /// Id.
    pub id: String,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Platform admin.
    pub platform_admin: bool,
    /// Suspended.
    pub suspended: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last changed, epoch ms.
    pub updated_at: i64,
}

/// A sign-in session.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionExport {
    /// Session id.
    pub id: String,
    /// Started, epoch ms.
    pub created_at: i64,
    /// Last refreshed, epoch ms.
    pub last_used_at: i64,
    /// Ended, epoch ms.
    pub revoked_at: Option<i64>,
    /// Why it ended.
    pub revoked_reason: Option<String>,
}

/// A membership.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MembershipExport {
    /// The business.
    pub business_id: String,
    /// Its name.
    pub business_name: String,
    /// The role held.
    pub role: String,
    /// Who added the user.
    pub added_by: Option<String>,
    /// Since, epoch ms.
    pub created_at: i64,
    /// Role last changed, epoch ms.
    pub updated_at: i64,
}

/// A linked external account.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExternalIdentityExport {
    /// The provider (OpenID Connect issuer).
    pub issuer: String,
    /// The user's id there.
    pub subject: String,
    /// Linked, epoch ms.
    pub created_at: i64,
}

/// Registers every identity operation on `ops`.
pub fn register(id: &Identity, ops: &mut OpsBuilder) {
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "auth.register",
            "Create an account and sign in",
            Permission::Public,
            false,
        )
        .returns_secrets()
        .at(HttpMethod::Post, "/auth/register"),
        move |ctx, p: Register| {
            let me = me.clone();
            async move { me.register(&ctx, p).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "auth.login",
            "Sign in with email and password",
            Permission::Public,
            false,
        )
        .returns_secrets()
        .at(HttpMethod::Post, "/auth/login"),
        move |ctx, p: Login| {
            let me = me.clone();
            async move { me.login(&ctx, p).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "auth.refresh",
            "Exchange a refresh token (single use) for a new token pair",
            Permission::Public,
            false,
        )
        .returns_secrets()
        .at(HttpMethod::Post, "/auth/refresh"),
        move |ctx, p: Refresh| {
            let me = me.clone();
            async move { me.refresh(&ctx, p).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "auth.logout",
            "End this sign-in session: its tokens stop working and its sockets close",
            Permission::User,
            true,
        )
        .at(HttpMethod::Post, "/auth/logout"),
        move |ctx, _: NoParams| {
            let me = me.clone();
            async move { me.logout(&ctx).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "auth.change_password",
            "Change the password; ends every sign-in session and returns a fresh token pair",
            Permission::User,
            false,
        )
        .returns_secrets()
        .at(HttpMethod::Post, "/auth/password"),
        move |ctx, p: ChangePassword| {
            let me = me.clone();
            async move { me.change_password(&ctx, p).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::read("me.get", "The caller's account", Permission::User).at(HttpMethod::Get, "/me"),
        move |ctx, _: NoParams| {
            let me = me.clone();
            async move { me.me(&ctx).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::read(
            "me.export",
            "Everything stored about the caller, as JSON",
            Permission::User,
        )
        .at(HttpMethod::Get, "/me/export"),
        move |ctx, _: NoParams| {
            let me = me.clone();
            async move { me.export(&ctx).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "me.delete",
            "Erase the caller's personal data and end all their sessions (not while they are a business's last owner)",
            Permission::User,
            true,
        )
        .at(HttpMethod::Delete, "/me"),
        move |ctx, _: NoParams| {
            let me = me.clone();
            async move { me.erase(&ctx).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "user.suspend",
            "Suspend a user: they cannot sign in and their sessions end at once",
            Permission::PlatformAdmin,
            true,
        )
        .at(HttpMethod::Post, "/users/{user_id}/suspend"),
        move |ctx, p: UserRefParams| {
            let me = me.clone();
            async move { me.set_suspended(&ctx, p, true).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::write(
            "user.unsuspend",
            "Lift a user's suspension",
            Permission::PlatformAdmin,
            true,
        )
        .at(HttpMethod::Post, "/users/{user_id}/unsuspend"),
        move |ctx, p: UserRefParams| {
            let me = me.clone();
            async move { me.set_suspended(&ctx, p, false).await }
        },
    );
    let me = id.clone();
    ops.register(
        OpSpec::read(
            "audit.list",
            "The audit log, newest first, a page at a time",
            Permission::PlatformAdmin,
        )
        .at(HttpMethod::Get, "/audit"),
        move |_ctx, p: AuditList| {
            let me = me.clone();
            async move { me.audit_page(p).await }
        },
    );
}
