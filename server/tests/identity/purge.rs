//! Purging expired sign-in data: only refresh tokens, sign-in sessions and
//! pending external sign-ins that no one can use any more are deleted.

use goonline_engine::ops::idempotency::hex;
use goonline_engine::testing::each_backend;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::auth::{IdWorld, PASSWORD, ip, security, str_field, world};
use crate::support::{audit_rows, code, refresh, sid};

/// The stored hash of a refresh token.
fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Runs `sql` with `$1` a time and `$2` a text.
async fn exec_at(w: &IdWorld, sql: &str, at: i64, text: &str) {
    sqlx::query(sql)
        .bind(at)
        .bind(text)
        .execute(w.db.pool())
        .await
        .unwrap_or_else(|e| panic!("[{}] {sql}: {e}", w.label));
}

/// Sets when the refresh token `token` expires.
async fn expire_token(w: &IdWorld, token: &str, at: i64) {
    exec_at(
        w,
        "UPDATE refresh_tokens SET expires_at = $1 WHERE token_hash = $2",
        at,
        &token_hash(token),
    )
    .await;
}

/// Sets when every refresh token of sign-in session `session` expires.
async fn expire_session_tokens(w: &IdWorld, session: &str, at: i64) {
    exec_at(
        w,
        "UPDATE refresh_tokens SET expires_at = $1 WHERE session_id = $2",
        at,
        session,
    )
    .await;
}

/// Dates sign-in session `session` back: started and last used at `at`.
async fn age_session(w: &IdWorld, session: &str, at: i64) {
    exec_at(
        w,
        "UPDATE auth_sessions SET created_at = $1, last_used_at = $1 WHERE id = $2",
        at,
        session,
    )
    .await;
}

async fn count_where(w: &IdWorld, sql: &str, key: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(w.db.pool())
        .await
        .unwrap_or_else(|e| panic!("[{}] {sql}: {e}", w.label))
}

async fn all_tokens(w: &IdWorld) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens")
        .fetch_one(w.db.pool())
        .await
        .expect("count refresh tokens")
}

async fn token_rows(w: &IdWorld, token: &str) -> i64 {
    count_where(
        w,
        "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = $1",
        &token_hash(token),
    )
    .await
}

async fn session_rows(w: &IdWorld, session: &str) -> i64 {
    count_where(
        w,
        "SELECT COUNT(*) FROM auth_sessions WHERE id = $1",
        session,
    )
    .await
}

async fn pending_rows(w: &IdWorld, state: &str) -> i64 {
    count_where(
        w,
        "SELECT COUNT(*) FROM oidc_pending WHERE state = $1",
        state,
    )
    .await
}

pub async fn purge_deletes_only_what_no_one_can_use() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let now = goonline_engine::now_ms();
        let hour = 3600 * 1000;
        let day = 24 * hour;
        let ttl = i64::try_from(security().refresh_token_ttl_secs).unwrap() * 1000;

        // In use for longer than a token lifetime: its spent first token is
        // long expired, its current one is live.
        let ann = w.register("ann@example.com", "Ann").await;
        let live = sid(&ann.access);
        let current = str_field(
            &refresh(&w, &ann.refresh).await.expect("rotate"),
            "refresh_token",
        );
        age_session(&w, &live, now - ttl - 3 * day).await;
        expire_token(&w, &ann.refresh, now - 2 * day).await;

        // A spent token still within its lifetime: reuse must still be found.
        let copied = w
            .login(ip(3), "ann@example.com", PASSWORD)
            .await
            .expect("login");
        let copied_next = str_field(
            &refresh(&w, &copied.refresh).await.expect("rotate"),
            "refresh_token",
        );

        // Expired an hour ago, unused for longer than a lifetime: kept a day.
        let bo = w.register("bo@example.com", "Bo").await;
        let recent = sid(&bo.access);
        age_session(&w, &recent, now - ttl - hour).await;
        expire_token(&w, &bo.refresh, now - hour).await;

        // Abandoned long ago: both its tokens and the session go.
        let gone = w
            .login(ip(4), "bo@example.com", PASSWORD)
            .await
            .expect("login");
        let stale = sid(&gone.access);
        let gone_next = str_field(
            &refresh(&w, &gone.refresh).await.expect("rotate"),
            "refresh_token",
        );
        age_session(&w, &stale, now - ttl - 3 * day).await;
        expire_session_tokens(&w, &stale, now - 2 * day).await;

        // Signed out: the token goes once long expired; the session only once
        // older than a token lifetime as well.
        let cy = w.register("cy@example.com", "Cy").await;
        let cy_young = w
            .login(ip(5), "cy@example.com", PASSWORD)
            .await
            .expect("login");
        for s in [&cy, &cy_young] {
            w.with_token(&s.access, "auth.logout", json!({}))
                .await
                .expect("logout");
            expire_session_tokens(&w, &sid(&s.access), now - 2 * day).await;
        }
        let revoked_old = sid(&cy.access);
        let revoked_young = sid(&cy_young.access);
        // Started long ago; when it was last used does not matter once revoked.
        exec_at(
            &w,
            "UPDATE auth_sessions SET created_at = $1 WHERE id = $2",
            now - ttl - 3 * day,
            &revoked_old,
        )
        .await;

        // External sign-ins started eleven minutes and one minute ago.
        for (state, at) in [("abandoned", now - 11 * 60_000), ("underway", now - 60_000)] {
            exec_at(
                &w,
                "INSERT INTO oidc_pending (state, verifier, nonce, created_at) \
                 VALUES ($2, 'v', 'n', $1)",
                at,
                state,
            )
            .await;
        }

        // Invitations: unusable for two days (expired, accepted, revoked) go;
        // pending ones and one that expired an hour ago stay.
        exec_at(
            &w,
            "INSERT INTO businesses (id, name, created_by, created_at) VALUES ($2, 'Shop', 'x', $1)",
            now,
            "biz-1",
        )
        .await;
        for (id, expires, accepted, revoked) in [
            ("expired", now - 2 * day, None, None),
            ("accepted", now + day, Some(now - 2 * day), None),
            ("revoked", now + day, None, Some(now - 2 * day)),
            ("pending", now + day, None, None),
            ("lately expired", now - hour, None, None),
        ] {
            sqlx::query(
                "INSERT INTO invitations (id, token_hash, business_id, role, invited_by, \
                 created_at, expires_at, accepted_at, revoked_at) \
                 VALUES ($1, $1, 'biz-1', 'viewer', 'x', $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(now - 3 * day)
            .bind(expires)
            .bind(accepted)
            .bind(revoked)
            .execute(w.db.pool())
            .await
            .expect("insert invitation");
        }

        let tokens_before = all_tokens(&w).await;
        let purged = w.identity.purge_expired().await.expect("purge");
        // Tokens: ann's first, both of the stale session, both signed-out
        // ones; sessions: the stale and the old signed-out one; one sign-in;
        // three invitations.
        assert_eq!(purged, 5 + 2 + 1 + 3, "[{}]", w.label);
        let left: Vec<String> =
            sqlx::query_scalar("SELECT id FROM invitations ORDER BY id")
                .fetch_all(w.db.pool())
                .await
                .expect("invitations");
        assert_eq!(left, ["lately expired", "pending"], "[{}]", w.label);
        let tokens_after = all_tokens(&w).await;
        assert_eq!(tokens_before - tokens_after, 5, "[{}]", w.label);

        for (token, kept, what) in [
            (&ann.refresh, 0, "spent and expired two days ago"),
            (&current, 1, "live"),
            (&copied.refresh, 1, "spent but within its lifetime"),
            (&copied_next, 1, "live"),
            (&bo.refresh, 1, "expired an hour ago"),
            (&gone.refresh, 0, "stale session, spent"),
            (&gone_next, 0, "stale session"),
            (&cy.refresh, 0, "signed out, expired two days ago"),
            (&cy_young.refresh, 0, "signed out, expired two days ago"),
        ] {
            assert_eq!(token_rows(&w, token).await, kept, "[{}] {what}", w.label);
        }
        for (session, kept, what) in [
            (&live, 1, "old but in use"),
            (&sid(&copied.access), 1, "young"),
            (&recent, 1, "its token is in its day of grace"),
            (&stale, 0, "abandoned"),
            (&revoked_old, 0, "signed out long ago"),
            (&revoked_young, 1, "younger than a token lifetime"),
        ] {
            assert_eq!(
                session_rows(&w, session).await,
                kept,
                "[{}] {what}",
                w.label
            );
        }
        assert_eq!(pending_rows(&w, "abandoned").await, 0, "[{}]", w.label);
        assert_eq!(pending_rows(&w, "underway").await, 1, "[{}]", w.label);

        assert_eq!(
            w.identity.purge_expired().await.expect("purge again"),
            0,
            "[{}] nothing more to delete",
            w.label
        );

        // Live sign-ins go on.
        w.identity
            .authenticate(&ann.access)
            .await
            .expect("still signed in");
        let next = refresh(&w, &current)
            .await
            .expect("the live token refreshes");
        w.identity
            .authenticate(&str_field(&next, "access_token"))
            .await
            .expect("and its access token works");
        assert_eq!(
            code(&refresh(&w, &bo.refresh).await),
            "unauthorized",
            "an expired token is refused whether or not it is purged"
        );
        assert_eq!(
            code(&refresh(&w, &ann.refresh).await),
            "unauthorized",
            "a purged token is unknown"
        );
        // The copied token is reuse: its family is revoked.
        assert_eq!(code(&refresh(&w, &copied.refresh).await), "unauthorized");
        assert_eq!(code(&refresh(&w, &copied_next).await), "unauthorized");
        let reason: Option<String> =
            sqlx::query_scalar("SELECT revoked_reason FROM auth_sessions WHERE id = $1")
                .bind(sid(&copied.access))
                .fetch_one(w.db.pool())
                .await
                .expect("session");
        assert_eq!(reason.as_deref(), Some("refresh_reuse"), "[{}]", w.label);
        assert_eq!(audit_rows(&w, "auth.refresh_reuse").await.len(), 1);
    })
    .await;
}
