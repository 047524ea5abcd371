//! Businesses and memberships in SQL, and the role lookup every permission check
//! and document open uses.

use serde::Serialize;
use sqlx::Row;

use super::role::Role;
use crate::audit::{AuditEvent, AuditLog, Outcome};
use crate::clock::now_ms;
use crate::engine::Engine;
use crate::ops::{BoxFuture, OpError, RoleLookup};
use crate::sql_store::SqlStore;

/// A business as its members see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Business {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The caller's role in it (absent for platform views).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The user who created it.
    pub created_by: String,
    /// The agent who onboarded it for its owner, if one did.
    pub onboarding_agent: Option<String>,
    /// Whether a platform admin has verified it.
    pub verified: bool,
    /// Creation time, epoch milliseconds.
    pub created_at: i64,
}

/// One member of a business.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Member {
    /// The member's user id.
    pub user_id: String,
    /// Their display name.
    pub display_name: String,
    /// Their email (shown to admins and owners only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their role.
    pub role: Role,
}

/// Businesses and memberships.
#[derive(Clone)]
pub struct Tenancy {
    pub(crate) db: SqlStore,
    pub(crate) audit: AuditLog,
    pub(crate) engine: Engine,
}

const BUSINESS_COLUMNS: &str =
    "b.id, b.name, b.created_by, b.onboarding_agent, b.verified_at, b.created_at";

fn business_from(row: &sqlx::any::AnyRow, role: Option<Role>) -> Result<Business, sqlx::Error> {
    Ok(Business {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        created_by: row.try_get(2)?,
        onboarding_agent: row.try_get(3)?,
        verified: row.try_get::<Option<i64>, _>(4)?.is_some(),
        created_at: row.try_get(5)?,
        role,
    })
}

impl Tenancy {
    /// Tenancy over `db`; membership changes are announced to `engine`.
    pub fn new(db: SqlStore, audit: AuditLog, engine: Engine) -> Tenancy {
        Tenancy { db, audit, engine }
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// `user`'s role in `business`, `None` if not a member or no such business.
    pub async fn role(&self, business: &str, user: &str) -> Result<Option<Role>, sqlx::Error> {
        role_in(&self.db, business, user).await
    }

    /// A business by id (not deleted).
    pub async fn business(&self, id: &str, role: Option<Role>) -> Result<Business, OpError> {
        let row = sqlx::query(&format!(
            "SELECT {BUSINESS_COLUMNS} FROM businesses b WHERE b.id = $1 AND b.deleted_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await
        .map_err(|e| OpError::from_db("business lookup", e))?
        .ok_or_else(|| OpError::NotFound(format!("business `{id}` not found")))?;
        business_from(&row, role).map_err(|e| OpError::from_db("business lookup", e))
    }

    /// The businesses `user` belongs to, with their role in each.
    pub async fn businesses_of(&self, user: &str) -> Result<Vec<Business>, OpError> {
        let rows = sqlx::query(&format!(
            "SELECT {BUSINESS_COLUMNS}, m.role FROM businesses b \
             JOIN business_members m ON m.business_id = b.id \
             WHERE m.user_id = $1 AND b.deleted_at IS NULL ORDER BY b.created_at, b.id"
        ))
        .bind(user)
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| OpError::from_db("business list", e))?;
        rows.iter()
            .map(|r| {
                let role = r
                    .try_get::<String, _>(6)
                    .ok()
                    .as_deref()
                    .and_then(Role::parse);
                business_from(r, role)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| OpError::from_db("business list", e))
    }

    /// The businesses `agent` onboarded.
    pub async fn attributions_of(&self, agent: &str) -> Result<Vec<Business>, OpError> {
        let rows = sqlx::query(&format!(
            "SELECT {BUSINESS_COLUMNS} FROM businesses b \
             WHERE b.onboarding_agent = $1 AND b.deleted_at IS NULL ORDER BY b.created_at, b.id"
        ))
        .bind(agent)
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| OpError::from_db("attributions", e))?;
        rows.iter()
            .map(|r| business_from(r, None))
            .collect::<Result<_, _>>()
            .map_err(|e| OpError::from_db("attributions", e))
    }

    /// The members of `business`; emails only when `with_email`.
    pub async fn members(&self, business: &str, with_email: bool) -> Result<Vec<Member>, OpError> {
        let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT m.user_id, u.display_name, u.email, m.role FROM business_members m \
             JOIN users u ON u.id = m.user_id WHERE m.business_id = $1 \
             ORDER BY m.created_at, m.user_id",
        )
        .bind(business)
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| OpError::from_db("member list", e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(user_id, display_name, email, role)| {
                Some(Member {
                    user_id,
                    display_name,
                    email: if with_email { email } else { None },
                    role: Role::parse(&role)?,
                })
            })
            .collect())
    }

    /// Records `event` in the audit log.
    pub(crate) async fn audit_event(&self, event: AuditEvent<'_>) {
        self.audit.record(event).await;
    }

    /// Tells the engine `user`'s access changed, so their live sessions are
    /// re-checked now.
    pub(crate) fn access_changed(&self, user: &str) {
        self.engine.access_changed(user);
    }

    /// The user id of the (not deleted) account with `email`.
    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<String>, OpError> {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND deleted = 0")
            .bind(email)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| OpError::from_db("user lookup", e))
    }

    pub(crate) fn now() -> i64 {
        now_ms()
    }
}

/// `user`'s role in `business` as stored, `None` if not a member or no such
/// (live) business.
pub async fn role_in(
    db: &SqlStore,
    business: &str,
    user: &str,
) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM business_members m JOIN businesses b ON b.id = m.business_id \
         WHERE m.business_id = $1 AND m.user_id = $2 AND b.deleted_at IS NULL",
    )
    .bind(business)
    .bind(user)
    .fetch_optional(db.pool())
    .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

impl RoleLookup for Tenancy {
    fn role_of<'a>(
        &'a self,
        business_id: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Role>, OpError>> {
        Box::pin(async move {
            self.role(business_id, user_id)
                .await
                .map_err(|e| OpError::from_db("role lookup", e))
        })
    }
}

/// An audit event with the usual shape for membership changes.
pub(crate) fn member_event<'a>(
    actor: &'a str,
    action: &'a str,
    business: &'a str,
    detail: serde_json::Value,
    ip: Option<String>,
) -> AuditEvent<'a> {
    AuditEvent {
        actor: Some(actor),
        action,
        target: Some(business),
        outcome: Outcome::Ok,
        detail,
        ip,
    }
}
