//! Deleting the identity rows nobody can use any more, so the tables do not
//! only grow: long-expired refresh tokens, the sign-in sessions left without
//! any, and OpenID Connect sign-ins that were started and never finished.
//!
//! A refresh token is kept until a day after it expires, spent or not: a spent
//! token presented again while it could still have been valid is reuse, and
//! must still be found to revoke its family. After its expiry no one could have
//! used it anyway, so presenting it is only refused.
//!
//! The server runs [`Identity::purge_expired`](super::Identity::purge_expired)
//! once an hour. Rows go in batches, so a large backlog never holds SQLite's
//! single write lock (which document commits need too) for long.

use std::sync::{Arc, Weak};

use sqlx::AnyPool;

use super::{Identity, Inner};

/// How long a refresh token is kept past its expiry, in milliseconds.
pub const EXPIRED_TOKEN_KEEP_MS: i64 = 24 * 3600 * 1000;

/// Pending OpenID Connect sign-ins older than this are dropped (the callback
/// refuses them anyway).
pub const PENDING_SIGN_IN_MS: i64 = super::oidc::PENDING_TTL_MS;

/// Most rows one statement deletes.
const BATCH: i64 = 1000;

/// Deletes what is past its use, as of `now` (epoch milliseconds); returns how
/// many rows went. `refresh_ttl_ms` is the refresh token lifetime.
pub(super) async fn expired(
    pool: &AnyPool,
    now: i64,
    refresh_ttl_ms: i64,
) -> Result<u64, sqlx::Error> {
    // Tokens first: a session goes only once no token row points at it.
    let tokens = in_batches(
        pool,
        "DELETE FROM refresh_tokens WHERE token_hash IN \
         (SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
        now.saturating_sub(EXPIRED_TOKEN_KEEP_MS),
    )
    .await?;
    // Revoked, or its newest token (issued when it was last used) has expired;
    // older than a token lifetime; and no token row left. Sessions start with a
    // token in the same transaction, so a live one always has a row.
    let sessions = in_batches(
        pool,
        "DELETE FROM auth_sessions WHERE id IN \
         (SELECT s.id FROM auth_sessions s WHERE s.created_at < $1 \
          AND (s.revoked_at IS NOT NULL OR s.last_used_at < $1) \
          AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id) \
          LIMIT $2)",
        now.saturating_sub(refresh_ttl_ms),
    )
    .await?;
    let pending = in_batches(
        pool,
        "DELETE FROM oidc_pending WHERE state IN \
         (SELECT state FROM oidc_pending WHERE created_at < $1 LIMIT $2)",
        now.saturating_sub(PENDING_SIGN_IN_MS),
    )
    .await?;
    // Invitations that can no longer be used (expired, accepted or revoked) a
    // day ago: only pending ones are ever listed, and the audit log keeps who
    // invited and joined whom.
    let invitations = in_batches(
        pool,
        "DELETE FROM invitations WHERE id IN \
         (SELECT id FROM invitations WHERE expires_at < $1 OR accepted_at < $1 \
          OR revoked_at < $1 LIMIT $2)",
        now.saturating_sub(EXPIRED_TOKEN_KEEP_MS),
    )
    .await?;
    let total = tokens + sessions + pending + invitations;
    if total > 0 {
        tracing::info!(
            refresh_tokens = tokens,
            sessions,
            pending_sign_ins = pending,
            invitations,
            "expired identity rows deleted"
        );
    }
    Ok(total)
}

/// Runs `sql` (a delete of at most `$2` rows older than `$1`) until it deletes
/// fewer than a batch.
async fn in_batches(pool: &AnyPool, sql: &str, cutoff: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sql)
            .bind(cutoff)
            .bind(BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// The identity service, without keeping it alive: for background tasks that
/// should end with the server.
pub struct WeakIdentity(Weak<Inner>);

impl WeakIdentity {
    /// The service, while the server still holds it.
    pub fn upgrade(&self) -> Option<Identity> {
        self.0.upgrade().map(|inner| Identity { inner })
    }
}

impl Identity {
    /// A handle that does not keep the service alive.
    pub fn downgrade(&self) -> WeakIdentity {
        WeakIdentity(Arc::downgrade(&self.inner))
    }
}
