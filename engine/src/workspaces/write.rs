//! Writing a change: its domain event (and, for critical changes, its audit
//! entry) in the change's own transaction, then the commit, which wakes the
//! outbox consumers.

use serde_json::Value;

use super::Workspaces;
use crate::audit::{AuditEvent, AuditLog, Outcome};
use crate::events::{DomainEvent, emit_in};
use crate::ops::{Ctx, OpError};
use crate::sql_store::begin_write;

/// A transaction of this service.
pub(super) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The database error of `context`, logged and hidden from the caller.
pub(super) fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

/// The caller's address, for the audit log.
pub(super) fn ip(ctx: &Ctx) -> Option<String> {
    ctx.caller.ip.map(|i| i.to_string())
}

/// The caller's user id (the registry has checked there is one).
pub(super) fn me(ctx: &Ctx) -> Result<String, OpError> {
    Ok(ctx.user()?.id.clone())
}

impl Workspaces {
    /// A new transaction.
    pub(super) async fn begin(&self, context: &'static str) -> Result<Tx, OpError> {
        begin_write(self.db().pool()).await.map_err(db_err(context))
    }

    /// Writes domain event `kind` about `subject` in `tx`.
    pub(super) async fn event(
        &self,
        tx: &mut Tx,
        business: &str,
        kind: &str,
        subject: &str,
        actor: Option<&str>,
        data: Value,
    ) -> Result<(), OpError> {
        let mut event = DomainEvent::new(Some(business), kind, subject, actor, data);
        event.at = self.now();
        emit_in(tx, &event).await.map_err(db_err("domain event"))
    }

    /// A change's domain event and its audit entry (action = the event's
    /// kind), both in `tx`.
    pub(super) async fn record(
        &self,
        tx: &mut Tx,
        ctx: Option<&Ctx>,
        actor: Option<&str>,
        change: Change<'_>,
        data: Value,
    ) -> Result<(), OpError> {
        self.event(
            tx,
            change.business,
            change.kind,
            change.subject,
            actor,
            data.clone(),
        )
        .await?;
        self.audit_in(tx, actor, ctx, change.kind, change.audit_target, data)
            .await
    }

    /// Appends audit entry `action` on `target` in `tx`.
    pub(super) async fn audit_in(
        &self,
        tx: &mut Tx,
        actor: Option<&str>,
        ctx: Option<&Ctx>,
        action: &str,
        target: &str,
        detail: Value,
    ) -> Result<(), OpError> {
        let event = AuditEvent {
            actor,
            action,
            target: Some(target),
            outcome: Outcome::Ok,
            detail,
            ip: ctx.and_then(ip),
        };
        AuditLog::append_in(tx, &event)
            .await
            .map_err(db_err("audit entry"))
    }

    /// Commits `tx` and wakes the outbox consumers.
    pub(super) async fn commit(&self, tx: Tx, context: &'static str) -> Result<(), OpError> {
        tx.commit().await.map_err(db_err(context))?;
        self.0.notifier.notify();
        Ok(())
    }

    /// The audit log (for reads in tests and exports).
    pub fn audit(&self) -> &AuditLog {
        &self.0.audit
    }
}

/// What [`Workspaces::record`] writes about: the event's business, kind and
/// subject, and the audit entry's target.
pub(super) struct Change<'a> {
    pub business: &'a str,
    pub kind: &'a str,
    pub subject: &'a str,
    pub audit_target: &'a str,
}
