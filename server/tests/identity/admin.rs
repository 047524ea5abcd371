//! What platform admins do and see: the audit trail of critical actions (read
//! through `audit.list`), and suspending an account until it is lifted.

use goonline_engine::testing::each_backend;
use goonline_protocol::codes::close;
use serde_json::json;

use crate::common::auth::{PASSWORD, ip, str_field, world};
use crate::support::{closed_with, code, live, refresh, sid};

pub async fn critical_actions_are_audited_and_admins_can_read_the_log() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let admin = w.admin("root@example.com").await;
        let a = w.register("jane@example.com", "Jane").await;
        assert!(
            w.login(ip(2), "jane@example.com", "wrong password")
                .await
                .is_err()
        );
        let b = w
            .login(ip(2), "jane@example.com", PASSWORD)
            .await
            .expect("login");
        w.with_token(&b.access, "auth.logout", json!({}))
            .await
            .expect("logout");
        w.with_token(
            &a.access,
            "auth.change_password",
            json!({ "current_password": PASSWORD, "new_password": "another good secret" }),
        )
        .await
        .expect("change password");
        w.with_token(
            &admin.access,
            "user.suspend",
            json!({ "user_id": a.user_id }),
        )
        .await
        .expect("suspend");
        w.with_token(
            &admin.access,
            "user.unsuspend",
            json!({ "user_id": a.user_id }),
        )
        .await
        .expect("unsuspend");

        let page = w
            .with_token(&admin.access, "audit.list", json!({}))
            .await
            .expect("audit.list");
        let entries = page["entries"].as_array().expect("entries");
        let seen: Vec<(String, String)> = entries
            .iter()
            .map(|e| (str_field(e, "action"), str_field(e, "outcome")))
            .collect();
        for expected in [
            ("auth.register", "ok"),
            ("auth.login", "ok"),
            ("auth.login", "denied"),
            ("auth.logout", "ok"),
            ("auth.password_changed", "ok"),
            ("user.suspended", "ok"),
            ("user.unsuspended", "ok"),
        ] {
            assert!(
                seen.iter()
                    .any(|(a, o)| (a.as_str(), o.as_str()) == expected),
                "[{}] {expected:?} in {seen:?}",
                db.label
            );
        }
        let ids: Vec<i64> = entries
            .iter()
            .map(|e| e["id"].as_i64().expect("id"))
            .collect();
        assert!(ids.windows(2).all(|p| p[0] > p[1]), "newest first");
        let suspended = entries
            .iter()
            .find(|e| e["action"] == "user.suspended")
            .expect("entry");
        assert_eq!(suspended["actor"], admin.user_id.as_str());
        assert_eq!(suspended["target"], a.user_id.as_str());

        // Paging (query strings carry numbers as text), filtering.
        let first = w
            .with_token(&admin.access, "audit.list", json!({ "limit": "2" }))
            .await
            .expect("page 1");
        assert_eq!(first["entries"].as_array().expect("entries").len(), 2);
        let before = first["next_before"].as_i64().expect("next_before");
        let second = w
            .with_token(
                &admin.access,
                "audit.list",
                json!({ "limit": 2, "before": before.to_string() }),
            )
            .await
            .expect("page 2");
        assert!(
            second["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .all(|e| e["id"].as_i64().expect("id") < before)
        );
        assert_eq!(
            code(
                &w.with_token(
                    &admin.access,
                    "audit.list",
                    json!({ "action": "auth.login", "limit": 100000 }),
                )
                .await
            ),
            "invalid_argument",
            "a limit past 500 is refused, not silently capped"
        );
        let logins = w
            .with_token(
                &admin.access,
                "audit.list",
                json!({ "action": "auth.login", "limit": 500 }),
            )
            .await
            .expect("filtered");
        let logins = logins["entries"].as_array().expect("entries");
        assert!(!logins.is_empty() && logins.iter().all(|e| e["action"] == "auth.login"));

        assert_eq!(
            code(&w.with_token(&b.access, "audit.list", json!({})).await),
            "unauthorized",
            "a signed-out token"
        );
        let c = w
            .login(ip(3), "jane@example.com", "another good secret")
            .await
            .expect("login");
        assert_eq!(
            code(&w.with_token(&c.access, "audit.list", json!({})).await),
            "forbidden"
        );
        assert_eq!(
            code(&w.anon(ip(3), "audit.list", json!({})).await),
            "unauthorized"
        );
    })
    .await;
}

pub async fn suspension_signs_out_and_blocks_sign_in_until_lifted() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let admin = w.admin("boss@example.com").await;
        let u = w.register("olga@example.com", "Olga").await;
        let (_s, ev) = live(&w, &u.user_id, &sid(&u.access));

        assert_eq!(
            code(
                &w.with_token(
                    &u.access,
                    "user.suspend",
                    json!({ "user_id": admin.user_id })
                )
                .await
            ),
            "forbidden"
        );
        let r = w
            .with_token(
                &admin.access,
                "user.suspend",
                json!({ "user_id": u.user_id }),
            )
            .await
            .expect("suspend");
        assert_eq!(r, json!({ "user_id": u.user_id, "suspended": true }));
        assert!(w.identity.authenticate(&u.access).await.is_err());
        assert_eq!(code(&refresh(&w, &u.refresh).await), "unauthorized");
        assert_eq!(closed_with(&ev).await, close::UNAUTHORIZED);
        assert_eq!(
            code(
                &w.login(ip(2), "olga@example.com", PASSWORD)
                    .await
                    .map(|s| s.body)
            ),
            "forbidden"
        );
        assert_eq!(
            code(
                &w.login(ip(2), "olga@example.com", "wrong password")
                    .await
                    .map(|s| s.body)
            ),
            "unauthorized",
            "without the password, nothing is revealed"
        );
        assert_eq!(
            code(
                &w.with_token(
                    &admin.access,
                    "user.suspend",
                    json!({ "user_id": admin.user_id })
                )
                .await
            ),
            "conflict",
            "not oneself"
        );
        assert_eq!(
            code(
                &w.with_token(
                    &admin.access,
                    "user.suspend",
                    json!({ "user_id": "nobody" })
                )
                .await
            ),
            "not_found"
        );
        w.with_token(
            &admin.access,
            "user.unsuspend",
            json!({ "user_id": u.user_id }),
        )
        .await
        .expect("unsuspend");
        w.login(ip(2), "olga@example.com", PASSWORD)
            .await
            .expect("signs in again");
    })
    .await;
}
