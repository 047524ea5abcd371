//! A user's own data: `me.export` holds everything about the caller and
//! nothing else; `me.delete` erases it and frees the email.

use goonline_engine::testing::each_backend;
use goonline_protocol::codes::close;
use serde_json::json;

use crate::common::auth::{PASSWORD, ip, str_field, world};
use crate::support::{audit_rows, closed_with, code, live, refresh, sid};

pub async fn me_export_holds_everything_about_the_caller() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("kim@example.com", "Kim").await;
        let b = w
            .login(ip(2), "kim@example.com", PASSWORD)
            .await
            .expect("login");
        let someone = w.register("lee@example.com", "Lee").await;
        let biz = w
            .with_token(
                &a.access,
                "business.create",
                json!({ "name": "Kim's Shop" }),
            )
            .await
            .expect("business");
        sqlx::query(
            "INSERT INTO external_identities (issuer, subject, user_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind("https://idp.example")
        .bind("subject-1")
        .bind(&a.user_id)
        .bind(goonline_engine::now_ms())
        .execute(w.db.pool())
        .await
        .expect("link");

        let export = w
            .with_token(&b.access, "me.export", json!({}))
            .await
            .expect("export");
        let acc = &export["account"];
        assert_eq!(acc["id"], a.user_id.as_str());
        assert_eq!(acc["email"], "kim@example.com");
        assert_eq!(acc["display_name"], "Kim");
        assert_eq!(acc["has_password"], true);
        assert_eq!(acc["suspended"], false);
        assert_eq!(export["sessions"].as_array().expect("sessions").len(), 2);
        let text = export.to_string();
        for secret in [&a.refresh, &b.refresh, &a.access] {
            assert!(!text.contains(secret.as_str()), "no tokens exported");
        }
        assert!(!text.contains("argon2"), "no password hash exported");
        assert!(!text.contains("hash\""), "no hash fields");
        let memberships = export["memberships"].as_array().expect("memberships");
        assert_eq!(memberships.len(), 1);
        assert_eq!(memberships[0]["business_id"], biz["id"]);
        assert_eq!(memberships[0]["business_name"], "Kim's Shop");
        assert_eq!(memberships[0]["role"], "owner");
        assert_eq!(
            export["external_identities"],
            json!([{ "issuer": "https://idp.example", "subject": "subject-1",
                     "created_at": export["external_identities"][0]["created_at"] }])
        );
        let audit = export["audit"].as_array().expect("audit");
        assert!(audit.iter().all(|e| e["actor"] == a.user_id.as_str()));
        let actions: Vec<_> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
        for expected in ["auth.register", "auth.login", "business.created"] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
        assert!(!text.contains(&someone.user_id), "nobody else's data");
    })
    .await;
}

pub async fn me_delete_erases_personal_data_and_frees_the_email() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("max@example.com", "Max").await;
        let b = w.register("nia@example.com", "Nia").await;
        let biz = w
            .with_token(&a.access, "business.create", json!({ "name": "Max's" }))
            .await
            .expect("business");
        let biz = str_field(&biz, "id");
        sqlx::query(
            "INSERT INTO external_identities (issuer, subject, user_id, created_at) \
             VALUES ('https://idp.example', 'max', $1, 0)",
        )
        .bind(&a.user_id)
        .execute(w.db.pool())
        .await
        .expect("link");
        let (_s, ev) = live(&w, &a.user_id, &sid(&a.access));

        let refused = w.with_token(&a.access, "me.delete", json!({})).await;
        assert_eq!(code(&refused), "conflict", "the last owner: {refused:?}");
        w.identity
            .authenticate(&a.access)
            .await
            .expect("nothing changed");

        w.with_token(
            &a.access,
            "member.add",
            json!({ "business_id": biz, "email": "nia@example.com", "role": "owner" }),
        )
        .await
        .expect("a second owner");
        let done = w
            .with_token(&a.access, "me.delete", json!({}))
            .await
            .expect("erased");
        assert_eq!(done, json!({ "ok": true }));

        let row: (Option<String>, String, Option<String>, i64) = sqlx::query_as(
            "SELECT email, display_name, password_hash, deleted FROM users WHERE id = $1",
        )
        .bind(&a.user_id)
        .fetch_one(w.db.pool())
        .await
        .expect("the row stays");
        assert_eq!(row, (None, "deleted user".to_string(), None, 1));
        assert!(w.identity.authenticate(&a.access).await.is_err());
        assert_eq!(code(&refresh(&w, &a.refresh).await), "unauthorized");
        assert_eq!(closed_with(&ev).await, close::UNAUTHORIZED);
        let links: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM external_identities WHERE user_id = $1")
                .bind(&a.user_id)
                .fetch_one(w.db.pool())
                .await
                .expect("count");
        assert_eq!(links, 0);
        let memberships: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM business_members WHERE user_id = $1")
                .bind(&a.user_id)
                .fetch_one(w.db.pool())
                .await
                .expect("count");
        assert_eq!(memberships, 0);
        let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE actor = $1")
            .bind(&a.user_id)
            .fetch_one(w.db.pool())
            .await
            .expect("count");
        assert!(audited >= 3, "the audit trail still points at the id");
        assert_eq!(audit_rows(&w, "me.deleted").await.len(), 1);
        assert_eq!(
            code(
                &w.login(ip(2), "max@example.com", PASSWORD)
                    .await
                    .map(|s| s.body)
            ),
            "unauthorized"
        );
        w.with_token(&b.access, "business.get", json!({ "business_id": biz }))
            .await
            .expect("the business lives on with its other owner");

        let again = w.register("max@example.com", "Max again").await;
        assert_ne!(again.user_id, a.user_id, "a new account");
    })
    .await;
}
