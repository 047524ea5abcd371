//! The `me.*` operations: the caller's account, an export of everything stored
//! about them, and erasure of their personal data.
//!
//! Erasure keeps the account row (every record pointing at the id stays
//! consistent, the audit log included) but empties it: no email, no name, no
//! password, flagged deleted. It refuses while the user is the last owner of a
//! business, since that business would be left without anyone to run it.

use goonline_engine::audit::{AuditLog, Outcome};
use goonline_engine::now_ms;
use goonline_engine::ops::{Ctx, OpError};
use serde_json::json;

use super::accounts::{self, ERASED_NAME, UserView};
use super::ops::{
    AccountExport, Done, Export, ExternalIdentityExport, MembershipExport, SessionExport,
};
use super::sessions::{self, reason};
use super::{Identity, db_err, event};
use goonline_engine::sql_store::begin_write;

/// `auth_sessions`: id, created, last used, revoked, why.
type SessionRow = (String, i64, i64, Option<i64>, Option<String>);
/// `business_members` joined with `businesses`: business, name, role, added by,
/// since, updated.
type MembershipRow = (String, String, String, Option<String>, i64, i64);

impl Identity {
    /// `me.get`: the caller's account.
    pub(super) async fn me(&self, ctx: &Ctx) -> Result<UserView, OpError> {
        let me = ctx.user()?;
        accounts::by_id(self.inner.db.pool(), &me.id)
            .await
            .map_err(db_err("me.get"))?
            .filter(accounts::Account::active)
            .map(|a| a.view())
            .ok_or_else(|| OpError::NotFound("this account no longer exists".into()))
    }

    /// `me.export`: everything stored about the caller.
    pub(super) async fn export(&self, ctx: &Ctx) -> Result<Export, OpError> {
        let me = ctx.user()?.id.clone();
        let err = db_err("me.export");
        let pool = self.inner.db.pool();
        let account = accounts::by_id(pool, &me)
            .await
            .map_err(&err)?
            .ok_or_else(|| OpError::NotFound("this account no longer exists".into()))?;
        let has_password = accounts::password_hash(pool, &me)
            .await
            .map_err(&err)?
            .is_some();
        let sessions: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, created_at, last_used_at, revoked_at, revoked_reason FROM auth_sessions \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(&me)
        .fetch_all(pool)
        .await
        .map_err(&err)?;
        let memberships: Vec<MembershipRow> = sqlx::query_as(
            "SELECT m.business_id, b.name, m.role, m.added_by, m.created_at, m.updated_at \
                 FROM business_members m JOIN businesses b ON b.id = m.business_id \
                 WHERE m.user_id = $1 ORDER BY m.created_at, m.business_id",
        )
        .bind(&me)
        .fetch_all(pool)
        .await
        .map_err(&err)?;
        let external: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT issuer, subject, created_at FROM external_identities \
             WHERE user_id = $1 ORDER BY created_at, issuer",
        )
        .bind(&me)
        .fetch_all(pool)
        .await
        .map_err(&err)?;
        let audit = self.inner.audit.by_actor(&me).await?;
        Ok(Export {
            exported_at: now_ms(),
            account: AccountExport {
                id: account.id,
                email: account.email,
                display_name: account.display_name,
                platform_admin: account.platform_admin,
                suspended: account.suspended,
                has_password,
                created_at: account.created_at,
                updated_at: account.updated_at,
            },
            sessions: sessions
                .into_iter()
                .map(
                    |(id, created_at, last_used_at, revoked_at, revoked_reason)| SessionExport {
                        id,
                        created_at,
                        last_used_at,
                        revoked_at,
                        revoked_reason,
                    },
                )
                .collect(),
            memberships: memberships
                .into_iter()
                .map(
                    |(business_id, business_name, role, added_by, created_at, updated_at)| {
                        MembershipExport {
                            business_id,
                            business_name,
                            role,
                            added_by,
                            created_at,
                            updated_at,
                        }
                    },
                )
                .collect(),
            external_identities: external
                .into_iter()
                .map(|(issuer, subject, created_at)| ExternalIdentityExport {
                    issuer,
                    subject,
                    created_at,
                })
                .collect(),
            audit,
        })
    }

    /// `me.delete`: erases the caller's personal data and signs them out
    /// everywhere.
    pub(super) async fn erase(&self, ctx: &Ctx) -> Result<Done, OpError> {
        let me = ctx.user()?.id.clone();
        let err = db_err("me.delete");
        let now = now_ms();
        let mut tx = begin_write(self.inner.db.pool()).await.map_err(&err)?;
        // A write first: it locks the account row (and SQLite's database) for
        // the rest of the transaction.
        let live = sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2 AND deleted = 0")
            .bind(now)
            .bind(&me)
            .execute(&mut *tx)
            .await
            .map_err(&err)?
            .rows_affected();
        if live != 1 {
            let _ = tx.rollback().await;
            return Err(OpError::NotFound("this account no longer exists".into()));
        }
        // Lock the businesses the user owns, as membership changes do, so a
        // concurrent demotion of the other owner cannot slip past the check.
        sqlx::query(
            "UPDATE businesses SET name = name WHERE id IN \
             (SELECT business_id FROM business_members WHERE user_id = $1 AND role = 'owner')",
        )
        .bind(&me)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        let sole: Vec<String> = sqlx::query_scalar(
            "SELECT m.business_id FROM business_members m \
             JOIN businesses b ON b.id = m.business_id \
             WHERE m.user_id = $1 AND m.role = 'owner' AND b.deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM business_members o WHERE o.business_id = m.business_id \
             AND o.role = 'owner' AND o.user_id <> m.user_id) ORDER BY m.business_id",
        )
        .bind(&me)
        .fetch_all(&mut *tx)
        .await
        .map_err(&err)?;
        if !sole.is_empty() {
            let _ = tx.rollback().await;
            return Err(OpError::Conflict(format!(
                "you are the last owner of {}: make someone else owner or delete {} first",
                sole.iter()
                    .map(|b| format!("business `{b}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if sole.len() == 1 { "it" } else { "them" }
            )));
        }
        let left: Vec<String> =
            sqlx::query_scalar("SELECT business_id FROM business_members WHERE user_id = $1")
                .bind(&me)
                .fetch_all(&mut *tx)
                .await
                .map_err(&err)?;
        for statement in [
            "DELETE FROM business_members WHERE user_id = $1",
            "DELETE FROM external_identities WHERE user_id = $1",
        ] {
            sqlx::query(statement)
                .bind(&me)
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        let revoked = sessions::revoke_all(&mut tx, &me, reason::ERASED)
            .await
            .map_err(&err)?;
        sqlx::query(
            "UPDATE users SET email = NULL, display_name = $1, password_hash = NULL, \
             platform_admin = 0, deleted = 1, updated_at = $2 WHERE id = $3",
        )
        .bind(ERASED_NAME)
        .bind(now)
        .bind(&me)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        let entry = event(
            Some(&me),
            "me.deleted",
            Some(&me),
            Outcome::Ok,
            json!({ "sessions_revoked": revoked, "memberships_removed": left }),
            ctx.caller.ip,
        );
        AuditLog::append_in(&mut tx, &entry).await.map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        self.close_sockets(&me, None, "signed out: account deleted");
        self.inner.engine.access_changed(&me);
        Ok(Done { ok: true })
    }
}
