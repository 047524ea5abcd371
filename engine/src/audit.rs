//! The audit log: an append-only record of critical actions (sign-ins and their
//! failures, token family revocations, role changes, business creation and
//! verification; later order and payment transitions) with actor, time, target
//! and outcome. The table refuses updates and deletes (database triggers).
//!
//! Entries never hold personal data: actors and targets are ids, and where only
//! an email is known (a failed sign-in for an unknown address) the entry keeps a
//! hash of it, so erasing a user's personal data leaves the log intact and
//! pointing at a pseudonymous id.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::ops::OpError;
use crate::ops::idempotency::hex;
use crate::sql_store::SqlStore;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It was refused (wrong password, missing permission, reuse detected).
    Denied,
    /// It failed for another reason.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Who acted (user id), if known.
    pub actor: Option<&'a str>,
    /// What happened, e.g. `auth.login`, `member.role_changed`.
    pub action: &'a str,
    /// What it was done to (an id).
    pub target: Option<&'a str>,
    /// How it ended.
    pub outcome: Outcome,
    /// Extra facts (ids, roles, reasons), never personal data.
    pub detail: Value,
    /// The client's address, if known.
    pub ip: Option<String>,
}

/// A stored entry, as `audit.list` returns it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub id: i64,
    /// When, in epoch milliseconds.
    pub at: i64,
    /// Who acted.
    pub actor: Option<String>,
    /// What happened.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// Extra facts.
    pub detail: Value,
    /// Client address.
    pub ip: Option<String>,
}

/// A stored row: id, at, actor, action, target, outcome, detail, ip.
type AuditRow = (
    i64,
    i64,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
);

/// The audit log.
#[derive(Clone)]
pub struct AuditLog {
    db: SqlStore,
}

impl AuditLog {
    /// The log in `db`.
    pub fn new(db: SqlStore) -> AuditLog {
        AuditLog { db }
    }

    /// Appends an entry. A failure is logged, not returned: the action it
    /// records has already happened (callers that must not proceed without an
    /// entry use [`AuditLog::append_in`] inside their transaction).
    pub async fn record(&self, event: AuditEvent<'_>) {
        let mut conn = match self.db.pool().acquire().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, action = event.action, "audit entry lost");
                return;
            }
        };
        if let Err(e) = Self::append_in(&mut conn, &event).await {
            tracing::error!(error = %e, action = event.action, "audit entry lost");
        }
    }

    /// Appends an entry on `conn` (e.g. inside the transaction of the change it
    /// records, so both or neither are kept).
    pub async fn append_in(
        conn: &mut sqlx::AnyConnection,
        event: &AuditEvent<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, outcome, detail, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now_ms())
        .bind(event.actor)
        .bind(event.action)
        .bind(event.target)
        .bind(event.outcome.as_str())
        .bind(event.detail.to_string())
        .bind(event.ip.as_deref())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Every entry where `actor` acted, oldest first (for a personal-data export).
    pub async fn by_actor(&self, actor: &str) -> Result<Vec<AuditEntry>, OpError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, target, outcome, detail, ip FROM audit_log \
             WHERE actor = $1 ORDER BY id",
        )
        .bind(actor)
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| OpError::from_db("audit export", e))?;
        Ok(rows.into_iter().map(entry_from).collect())
    }

    /// Entries with id below `before` (newest first), at most `limit`,
    /// optionally only those with `action`.
    pub async fn list(
        &self,
        before: Option<i64>,
        limit: u32,
        action: Option<&str>,
    ) -> Result<Vec<AuditEntry>, OpError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, target, outcome, detail, ip FROM audit_log \
             WHERE id < $1 AND ($2 = '' OR action = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(action.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| OpError::from_db("audit.list", e))?;
        Ok(rows.into_iter().map(entry_from).collect())
    }
}

/// A stored row as an entry.
fn entry_from(row: AuditRow) -> AuditEntry {
    let (id, at, actor, action, target, outcome, detail, ip) = row;
    AuditEntry {
        id,
        at,
        actor,
        action,
        target,
        outcome,
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
        ip,
    }
}

/// A stable pseudonym for an email address (for entries about addresses that
/// have no account): the first 16 hex digits of its SHA-256.
pub fn email_pseudonym(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!("email:{}", &hex(&digest)[..16])
}
