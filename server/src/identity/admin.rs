//! Platform-admin operations on accounts: suspend (which signs the user out
//! everywhere at once) and unsuspend, and reading the audit log.

use goonline_engine::audit::{AuditLog, Outcome};
use goonline_engine::now_ms;
use goonline_engine::ops::{Ctx, OpError};
use serde_json::json;

use super::ops::{AuditList, AuditPage, Suspension, UserRefParams};
use super::sessions::{self, reason};
use super::{Identity, db_err, event};
use goonline_engine::sql_store::begin_write;

/// Entries `audit.list` returns when no limit is given.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Most entries `audit.list` returns at once.
pub const MAX_AUDIT_LIMIT: u32 = 500;

impl Identity {
    /// `user.suspend` (`true`) and `user.unsuspend` (`false`).
    pub(super) async fn set_suspended(
        &self,
        ctx: &Ctx,
        p: UserRefParams,
        suspend: bool,
    ) -> Result<Suspension, OpError> {
        let me = ctx.user()?.id.clone();
        let target = p.user_id.as_str();
        if suspend && target == me {
            return Err(OpError::Conflict(
                "you cannot suspend your own account".into(),
            ));
        }
        let (err, action) = if suspend {
            (db_err("user.suspend"), "user.suspended")
        } else {
            (db_err("user.unsuspend"), "user.unsuspended")
        };
        let mut tx = begin_write(self.inner.db.pool()).await.map_err(&err)?;
        let changed = sqlx::query(
            "UPDATE users SET suspended = $1, updated_at = $2 \
             WHERE id = $3 AND deleted = 0 AND suspended <> $1",
        )
        .bind(i32::from(suspend))
        .bind(now_ms())
        .bind(target)
        .execute(&mut *tx)
        .await
        .map_err(&err)?
        .rows_affected();
        if changed == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT deleted FROM users WHERE id = $1 AND deleted = 0")
                    .bind(target)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(&err)?;
            let _ = tx.rollback().await;
            if exists.is_none() {
                return Err(OpError::NotFound(format!("user `{target}` not found")));
            }
            // Already in that state: nothing to do, nothing to record.
            return Ok(Suspension {
                user_id: target.to_string(),
                suspended: suspend,
            });
        }
        let revoked = if suspend {
            sessions::revoke_all(&mut tx, target, reason::SUSPENDED)
                .await
                .map_err(&err)?
        } else {
            0
        };
        let entry = event(
            Some(&me),
            action,
            Some(target),
            Outcome::Ok,
            json!({ "sessions_revoked": revoked }),
            ctx.caller.ip,
        );
        AuditLog::append_in(&mut tx, &entry).await.map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        if suspend {
            self.close_sockets(target, None, "signed out: account suspended");
        }
        Ok(Suspension {
            user_id: target.to_string(),
            suspended: suspend,
        })
    }

    /// `audit.list`: newest entries first, one page.
    pub(super) async fn audit_page(&self, p: AuditList) -> Result<AuditPage, OpError> {
        let limit = p.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
        if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
            return Err(OpError::invalid(
                "limit",
                format!("must be 1 to {MAX_AUDIT_LIMIT}, got {limit}"),
            ));
        }
        let entries = self
            .inner
            .audit
            .list(p.before, limit, p.action.as_ref().map(|a| a.as_str()))
            .await?;
        let next_before = if entries.len() == limit as usize {
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before,
        })
    }
}
