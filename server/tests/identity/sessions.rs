//! Sign-in sessions ending or going on: refresh token rotation and reuse
//! detection, logout, and a password change (live sessions closed each time).

use goonline_engine::testing::each_backend;
use goonline_protocol::codes::close;
use serde_json::json;

use crate::common::auth::{PASSWORD, ip, str_field, world};
use crate::support::{assert_invalid, audit_rows, closed_with, code, live, refresh, sid};

pub async fn refresh_rotates_and_reuse_revokes_the_family() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("carol@example.com", "Carol").await;
        let other = w
            .login(ip(2), "carol@example.com", PASSWORD)
            .await
            .expect("second session");
        let family = sid(&a.access);
        let (_s1, ev1) = live(&w, &a.user_id, &family);
        let (_s2, ev2) = live(&w, &a.user_id, &sid(&other.access));

        let r1 = refresh(&w, &a.refresh).await.expect("refresh");
        let r1_refresh = str_field(&r1, "refresh_token");
        let r1_access = str_field(&r1, "access_token");
        assert_ne!(r1_refresh, a.refresh, "rotated");
        assert_eq!(r1["token_type"], "Bearer");
        assert_eq!(r1["expires_in"], 900);
        assert_eq!(sid(&r1_access), family, "same family");
        w.identity.authenticate(&r1_access).await.expect("works");

        let r2 = refresh(&w, &r1_refresh).await.expect("chain continues");
        let r2_refresh = str_field(&r2, "refresh_token");
        let r2_access = str_field(&r2, "access_token");
        assert!(!ev1.kill.is_killed());

        // The first token again: it was spent, so the family is revoked.
        let reuse = refresh(&w, &a.refresh).await;
        assert_eq!(code(&reuse), "unauthorized", "{reuse:?}");
        assert_eq!(
            code(&refresh(&w, &r2_refresh).await),
            "unauthorized",
            "the family's newest refresh token stops working"
        );
        assert!(w.identity.authenticate(&r2_access).await.is_err());
        assert!(w.identity.authenticate(&a.access).await.is_err());
        assert_eq!(closed_with(&ev1).await, close::UNAUTHORIZED);
        assert!(!ev2.kill.is_killed(), "other sessions live on");
        w.identity
            .authenticate(&other.access)
            .await
            .expect("the other sign-in session is untouched");
        refresh(&w, &other.refresh)
            .await
            .expect("and so is its refresh token");

        let reason: Option<String> =
            sqlx::query_scalar("SELECT revoked_reason FROM auth_sessions WHERE id = $1")
                .bind(&family)
                .fetch_one(w.db.pool())
                .await
                .expect("session");
        assert_eq!(reason.as_deref(), Some("refresh_reuse"));
        let audited = audit_rows(&w, "auth.refresh_reuse").await;
        assert_eq!(audited.len(), 1);
        assert_eq!(audited[0].2.as_deref(), Some(family.as_str()));
        assert_eq!(audited[0].3, "denied");

        assert_eq!(code(&refresh(&w, "no-such-token").await), "unauthorized");
    })
    .await;
}

pub async fn logout_ends_only_this_session() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("dan@example.com", "Dan").await;
        let b = w
            .login(ip(2), "dan@example.com", PASSWORD)
            .await
            .expect("login");
        let (_s1, ev1) = live(&w, &a.user_id, &sid(&a.access));
        let (_s2, ev2) = live(&w, &a.user_id, &sid(&b.access));

        let out = w
            .with_token(&a.access, "auth.logout", json!({}))
            .await
            .expect("logout");
        assert_eq!(out, json!({ "ok": true }));
        assert!(w.identity.authenticate(&a.access).await.is_err());
        assert_eq!(code(&refresh(&w, &a.refresh).await), "unauthorized");
        assert_eq!(closed_with(&ev1).await, close::UNAUTHORIZED);
        assert!(!ev2.kill.is_killed());
        w.identity
            .authenticate(&b.access)
            .await
            .expect("other session");
        assert_eq!(
            code(&w.anon(ip(2), "auth.logout", json!({})).await),
            "unauthorized"
        );
        let rows = audit_rows(&w, "auth.logout").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0.as_deref(), Some(a.user_id.as_str()));
    })
    .await;
}

pub async fn change_password_revokes_every_session_and_issues_a_fresh_pair() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("erin@example.com", "Erin").await;
        let b = w
            .login(ip(2), "erin@example.com", PASSWORD)
            .await
            .expect("login");
        let (_s1, ev1) = live(&w, &a.user_id, &sid(&a.access));
        let (_s2, ev2) = live(&w, &a.user_id, &sid(&b.access));

        let wrong = w
            .with_token(
                &a.access,
                "auth.change_password",
                json!({ "current_password": "not my password", "new_password": "a brand new secret" }),
            )
            .await;
        assert_invalid(&wrong, "current_password", "wrong current password");
        w.identity.authenticate(&a.access).await.expect("nothing changed");

        let fresh = w
            .with_token(
                &a.access,
                "auth.change_password",
                json!({ "current_password": PASSWORD, "new_password": "a brand new secret" }),
            )
            .await
            .expect("changed");
        let fresh_access = str_field(&fresh, "access_token");
        assert_eq!(fresh["token_type"], "Bearer");
        for old in [&a, &b] {
            assert!(w.identity.authenticate(&old.access).await.is_err());
            assert_eq!(code(&refresh(&w, &old.refresh).await), "unauthorized");
        }
        assert_eq!(closed_with(&ev1).await, close::UNAUTHORIZED);
        assert_eq!(closed_with(&ev2).await, close::UNAUTHORIZED);
        w.with_token(&fresh_access, "me.get", json!({}))
            .await
            .expect("the fresh pair works");
        refresh(&w, &str_field(&fresh, "refresh_token"))
            .await
            .expect("and refreshes");

        assert_eq!(
            code(&w.login(ip(3), "erin@example.com", PASSWORD).await.map(|s| s.body)),
            "unauthorized",
            "the old password no longer works"
        );
        w.login(ip(3), "erin@example.com", "a brand new secret")
            .await
            .expect("the new one does");
        let rows = audit_rows(&w, "auth.password_changed").await;
        let outcomes: Vec<_> = rows.iter().map(|r| r.3.as_str()).collect();
        assert_eq!(outcomes, ["denied", "ok"]);
    })
    .await;
}

/// A sign-out made elsewhere whose message never arrived (another node, the
/// bus down): the periodic re-check of live sign-ins closes the socket.
pub async fn a_sign_out_this_node_missed_is_found_by_the_recheck() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("dede@example.com", "Dede").await;
        let b = w
            .login(ip(2), "dede@example.com", PASSWORD)
            .await
            .expect("second session");
        let (_s1, ev1) = live(&w, &a.user_id, &sid(&a.access));
        let (_s2, ev2) = live(&w, &a.user_id, &sid(&b.access));
        // Revoked in the store only, as another node's logout does.
        sqlx::query("UPDATE auth_sessions SET revoked_at = 1 WHERE id = $1")
            .bind(sid(&a.access))
            .execute(w.db.pool())
            .await
            .expect("revoke");
        assert!(!ev1.kill.is_killed(), "nobody told this node");
        let closed = w.identity.recheck_live_sign_ins().await.expect("recheck");
        assert_eq!(closed, 1, "[{}] one socket closed", db.label);
        assert_eq!(closed_with(&ev1).await, close::UNAUTHORIZED);
        assert!(!ev2.kill.is_killed(), "the other sign-in goes on");
    })
    .await;
}
