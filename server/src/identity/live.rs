//! Sign-ins behind this node's live sockets, checked against the store.
//!
//! A sign-out, a password change or a suspension on one node closes the
//! user's sockets on the others through the bus's control channel. That
//! message is at most once: after a bus outage, and every
//! [`RECHECK_EVERY`] while other nodes share the bus, each node checks the
//! sign-ins of its live sockets (one query per 500) and closes those that
//! ended, so a lost message delays a revocation by at most that long.

use std::time::Duration;

use goonline_engine::ops::OpError;
use sqlx::Row;

use super::Identity;
use super::purge::WeakIdentity;

/// How often a node of a cluster re-checks its sockets' sign-ins.
pub const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// Sign-ins per query.
const CHUNK: usize = 500;

impl Identity {
    /// Closes the live sockets on this node whose sign-in session ended
    /// (signed out, revoked, user suspended or deleted).
    pub async fn recheck_live_sign_ins(&self) -> Result<usize, OpError> {
        let live = self.inner.engine.live_sign_ins();
        let mut closed = 0;
        for chunk in live.chunks(CHUNK) {
            let sql = format!(
                "SELECT s.id FROM auth_sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id IN ({}) AND s.revoked_at IS NULL \
                 AND u.suspended = 0 AND u.deleted = 0",
                goonline_engine::sql_store::placeholders(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (_, session) in chunk {
                query = query.bind(session);
            }
            let rows = query
                .fetch_all(self.inner.db.pool())
                .await
                .map_err(|e| OpError::from_db("recheck sign-ins", e))?;
            let active: std::collections::HashSet<String> = rows
                .iter()
                .filter_map(|r| r.try_get::<String, _>(0).ok())
                .collect();
            for (user, session) in chunk {
                if !active.contains(session) {
                    self.close_sockets(user, Some(session), "signed out");
                    closed += 1;
                }
            }
        }
        Ok(closed)
    }
}

/// Re-checks every [`RECHECK_EVERY`] for as long as the identity service lives.
pub fn spawn_periodic_recheck(identity: WeakIdentity) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(identity) = identity.upgrade() else {
                return;
            };
            if let Err(e) = identity.recheck_live_sign_ins().await {
                tracing::warn!(error = %e, "re-checking live sign-ins failed");
            }
        }
    });
}
