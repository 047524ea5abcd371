//! Sign-in sessions (`auth_sessions`) and their refresh tokens
//! (`refresh_tokens`).
//!
//! Each sign-in starts a session: the family of the refresh tokens it issues.
//! A refresh token works once; using it marks it spent and issues its successor
//! in the same family. Presenting a spent token again means it was copied (or a
//! client is broken), so the whole family is revoked: its remaining refresh
//! token stops working and `authenticate` refuses its access tokens.

use goonline_engine::now_ms;
use sqlx::{AnyConnection, AnyPool};

use super::tokens::{new_refresh_token, refresh_hash};
use goonline_engine::sql_store::begin_write;

/// Why a session was revoked (`auth_sessions.revoked_reason`).
pub mod reason {
    /// `auth.logout`.
    pub const SIGNED_OUT: &str = "signed_out";
    /// `auth.change_password` revoked every session.
    pub const PASSWORD_CHANGED: &str = "password_changed";
    /// A spent refresh token was presented again.
    pub const REFRESH_REUSE: &str = "refresh_reuse";
    /// A platform admin suspended the user.
    pub const SUSPENDED: &str = "suspended";
    /// The user erased their personal data.
    pub const ERASED: &str = "erased";
}

/// A session just started.
pub struct Started {
    /// The session (family) id.
    pub session: String,
    /// Its first refresh token (the only copy: the table keeps its hash).
    pub refresh_token: String,
}

/// Starts a session for `user` with a first refresh token valid `ttl_ms`.
pub async fn start(
    conn: &mut AnyConnection,
    user: &str,
    ttl_ms: i64,
) -> Result<Started, sqlx::Error> {
    let session = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO auth_sessions (id, user_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(&session)
    .bind(user)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let refresh_token = issue_refresh(conn, &session, now, ttl_ms).await?;
    Ok(Started {
        session,
        refresh_token,
    })
}

async fn issue_refresh(
    conn: &mut AnyConnection,
    session: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<String, sqlx::Error> {
    let token = new_refresh_token();
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(refresh_hash(&token))
    .bind(session)
    .bind(now)
    .bind(now.saturating_add(ttl_ms))
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// What presenting a refresh token did.
pub enum Rotation {
    /// It was valid: it is spent now and this is its successor.
    Rotated {
        /// The user.
        user: String,
        /// The session (unchanged).
        session: String,
        /// Whether the user is a platform admin.
        platform_admin: bool,
        /// The new refresh token.
        refresh_token: String,
    },
    /// It had been used before: the family is revoked.
    Reused {
        /// The user.
        user: String,
        /// The revoked session.
        session: String,
        /// Whether this call revoked it (it may have been revoked already).
        revoked_now: bool,
    },
    /// Unknown, expired, or its session or user no longer active.
    Refused,
}

type TokenRow = (Option<i64>, String, String, Option<i64>, i64, i64, i64);

/// Spends `presented` and issues its successor, or detects reuse and revokes
/// the family. The spend is a conditional update, done first: of two
/// concurrent uses of one token exactly one wins, and the other is reuse.
pub async fn rotate(pool: &AnyPool, presented: &str, ttl_ms: i64) -> Result<Rotation, sqlx::Error> {
    let hash = refresh_hash(presented);
    let now = now_ms();
    // Writing first also takes SQLite's write lock at the start, so the
    // transaction never has to upgrade a read snapshot (which could fail).
    let mut tx = begin_write(pool).await?;
    let spent = sqlx::query(
        "UPDATE refresh_tokens SET spent_at = $1 \
         WHERE token_hash = $2 AND spent_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT t.spent_at, s.id, s.user_id, s.revoked_at, u.platform_admin, u.suspended, \
         u.deleted FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id \
         JOIN users u ON u.id = s.user_id WHERE t.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((spent_at, session, user, revoked_at, admin, suspended, deleted)) = row else {
        tx.rollback().await?;
        return Ok(Rotation::Refused);
    };
    if spent == 1 {
        if revoked_at.is_some() || suspended != 0 || deleted != 0 {
            tx.rollback().await?;
            return Ok(Rotation::Refused);
        }
        let refresh_token = issue_refresh(&mut tx, &session, now, ttl_ms).await?;
        sqlx::query("UPDATE auth_sessions SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(Rotation::Rotated {
            user,
            session,
            platform_admin: admin != 0,
            refresh_token,
        });
    }
    if spent_at.is_none() {
        // Unspent but not updated: it has expired.
        tx.rollback().await?;
        return Ok(Rotation::Refused);
    }
    let revoked_now = revoke(&mut tx, &session, reason::REFRESH_REUSE).await?;
    tx.commit().await?;
    Ok(Rotation::Reused {
        user,
        session,
        revoked_now,
    })
}

/// Revokes one session; `true` if it was active until now.
pub async fn revoke(
    conn: &mut AnyConnection,
    session: &str,
    why: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(why)
    .bind(session)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Revokes every active session of `user`; returns how many.
pub async fn revoke_all(
    conn: &mut AnyConnection,
    user: &str,
    why: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(why)
    .bind(user)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Whether `session` belongs to `user`, is not revoked, and the user is neither
/// suspended nor erased; if so, whether the user is a platform admin now.
pub async fn active(
    pool: &AnyPool,
    session: &str,
    user: &str,
) -> Result<Option<bool>, sqlx::Error> {
    let admin: Option<i64> = sqlx::query_scalar(
        "SELECT u.platform_admin FROM auth_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL \
         AND u.suspended = 0 AND u.deleted = 0",
    )
    .bind(session)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(admin.map(|a| a != 0))
}
