//! Bad params to the identity operations: each refused as `invalid_argument`
//! naming the field, changing nothing.

use goonline_engine::testing::each_backend;
use serde_json::{Value, json};

use crate::common::auth::{PASSWORD, ip, world};
use crate::support::assert_invalid;

pub async fn bad_input_names_the_field() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let admin = w.admin("pat@example.com").await;
        let long_name = "x".repeat(101);
        let long_email = format!("{}@example.com", "a".repeat(250));
        let long_password = "p".repeat(257);
        let anon_cases: Vec<(&str, Value, &str)> = vec![
            ("auth.register", json!({ "password": PASSWORD, "display_name": "X" }), "email"),
            ("auth.register", json!({ "email": "x@example.com", "display_name": "X" }), "password"),
            ("auth.register", json!({ "email": "x@example.com", "password": PASSWORD }), "display_name"),
            ("auth.register", json!({ "email": "x@example.com", "password": 12345678, "display_name": "X" }), "password"),
            ("auth.register", json!({ "email": "x@example.com", "password": PASSWORD, "display_name": long_name }), "display_name"),
            ("auth.register", json!({ "email": "x@example.com", "password": PASSWORD, "display_name": "  " }), "display_name"),
            ("auth.register", json!({ "email": "not-an-email", "password": PASSWORD, "display_name": "X" }), "email"),
            ("auth.register", json!({ "email": long_email, "password": PASSWORD, "display_name": "X" }), "email"),
            ("auth.register", json!({ "email": "x@example.com", "password": long_password, "display_name": "X" }), "password"),
            ("auth.register", json!({ "email": "x@example.com", "password": "short", "display_name": "X" }), "password"),
            ("auth.register", json!({ "email": "x@example.com", "password": PASSWORD, "display_name": "X", "platform_admin": true }), "platform_admin"),
            ("auth.login", json!({ "email": "x@example.com" }), "password"),
            ("auth.login", json!({ "email": ["x@example.com"], "password": PASSWORD }), "email"),
            ("auth.login", json!("x@example.com"), ""),
            ("auth.refresh", json!({}), "refresh_token"),
            ("auth.refresh", json!({ "refresh_token": 5 }), "refresh_token"),
            ("auth.refresh", json!({ "refresh_token": "r".repeat(257) }), "refresh_token"),
        ];
        for (method, params, field) in anon_cases {
            let r = w.anon(ip(1), method, params.clone()).await;
            assert_invalid(&r, field, &format!("[{}] {method} {params}", db.label));
        }
        let user_cases: Vec<(&str, Value, &str)> = vec![
            ("auth.change_password", json!({ "current_password": PASSWORD }), "new_password"),
            ("auth.change_password", json!({ "current_password": PASSWORD, "new_password": "short" }), "new_password"),
            ("auth.change_password", json!({ "current_password": true, "new_password": "long enough" }), "current_password"),
            ("me.get", json!({ "x": 1 }), "x"),
            ("auth.logout", json!({ "everywhere": true }), "everywhere"),
            ("audit.list", json!({ "limit": "abc" }), "limit"),
            ("audit.list", json!({ "limit": -1 }), "limit"),
            ("audit.list", json!({ "before": "yesterday" }), "before"),
            ("audit.list", json!({ "action": "" }), "action"),
            ("user.suspend", json!({ "user_id": "bad id!" }), "user_id"),
            ("user.suspend", json!({}), "user_id"),
        ];
        for (method, params, field) in user_cases {
            let r = w.with_token(&admin.access, method, params.clone()).await;
            assert_invalid(&r, field, &format!("[{}] {method} {params}", db.label));
        }
        w.identity
            .authenticate(&admin.access)
            .await
            .expect("bad input changed nothing");
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(w.db.pool())
            .await
            .expect("count");
        assert_eq!(users, 1);
    })
    .await;
}
