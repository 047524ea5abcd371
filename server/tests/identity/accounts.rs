//! Accounts and sign-in: registration, login and `me.get` (with what is stored
//! in the database), and a wrong password answered exactly like an unknown
//! email.

use std::time::Instant;

use goonline_engine::audit::email_pseudonym;
use goonline_engine::ops::OpError;
use goonline_engine::ops::idempotency::hex;
use goonline_engine::testing::each_backend;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::auth::{PASSWORD, ip, jwt_payload, world};
use crate::support::{audit_rows, code, sid};

pub async fn register_login_and_me() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("Alice@Example.com", " Alice ").await;
        assert_eq!(a.body["token_type"], "Bearer");
        assert_eq!(a.body["expires_in"], 900);
        assert_eq!(a.body["user"]["email"], "alice@example.com", "normalized");
        assert_eq!(a.body["user"]["display_name"], "Alice", "trimmed");
        assert_eq!(a.body["user"]["platform_admin"], false);

        let claims = jwt_payload(&a.access);
        assert_eq!(claims["sub"], a.user_id.as_str());
        assert_eq!(claims["aud"], "goonline");
        assert_eq!(claims["iss"], "goonline");
        assert_eq!(claims["adm"], false);
        assert!(claims["jti"].is_string() && claims["sid"].is_string());
        let (iat, exp) = (
            claims["iat"].as_u64().expect("iat"),
            claims["exp"].as_u64().expect("exp"),
        );
        assert_eq!(exp - iat, 900, "default access token lifetime");

        let auth = w.identity.authenticate(&a.access).await.expect("valid");
        assert_eq!(auth.user.id, a.user_id);
        assert_eq!(auth.user.session, sid(&a.access));
        assert!(!auth.user.platform_admin);
        assert_eq!(auth.expires_at_ms, exp as i64 * 1000);

        let me = w
            .with_token(&a.access, "me.get", json!({}))
            .await
            .expect("me.get");
        assert_eq!(me["id"], a.user_id.as_str());
        assert_eq!(me["email"], "alice@example.com");

        let b = w
            .login(ip(2), "ALICE@example.com", PASSWORD)
            .await
            .expect("login, any case");
        assert_eq!(b.user_id, a.user_id);
        assert_ne!(sid(&b.access), sid(&a.access), "each login is a session");
        assert_eq!(b.body["user"]["email"], "alice@example.com");

        let dup = w
            .anon(
                ip(3),
                "auth.register",
                json!({ "email": "alice@EXAMPLE.com", "password": PASSWORD, "display_name": "A2" }),
            )
            .await;
        assert_eq!(code(&dup), "conflict", "an email registers once: {dup:?}");
        assert_eq!(
            code(&w.anon(ip(3), "me.get", json!({})).await),
            "unauthorized"
        );

        // Stored: an argon2id hash, never the password; refresh tokens hashed.
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(&a.user_id)
            .fetch_one(w.db.pool())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains(PASSWORD));
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
            .fetch_all(w.db.pool())
            .await
            .expect("tokens");
        assert_eq!(stored.len(), 2);
        assert!(!stored.contains(&a.refresh), "never stored in the clear");
        assert!(stored.contains(&hex(&Sha256::digest(a.refresh.as_bytes()))));
    })
    .await;
}

pub async fn wrong_password_and_unknown_email_are_indistinguishable() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let bob = w.register("bob@example.com", "Bob").await;
        let mut wrong_times = Vec::new();
        let mut unknown_times = Vec::new();
        let mut errors = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let wrong = w.login(ip(2), "bob@example.com", "not the password").await;
            wrong_times.push(t.elapsed());
            let t = Instant::now();
            let unknown = w
                .login(ip(2), "nobody@example.com", "not the password")
                .await;
            unknown_times.push(t.elapsed());
            errors.push((wrong.expect_err("wrong"), unknown.expect_err("unknown")));
        }
        for (wrong, unknown) in &errors {
            assert!(matches!(wrong, OpError::Unauthorized(_)), "{wrong:?}");
            assert_eq!(wrong, unknown, "the same answer for both");
        }
        // An unknown email still pays for a password verification.
        wrong_times.sort();
        unknown_times.sort();
        assert!(
            unknown_times[1] * 4 >= wrong_times[1],
            "unknown email {:?} vs wrong password {:?}",
            unknown_times[1],
            wrong_times[1]
        );

        let denied = audit_rows(&w, "auth.login").await;
        assert_eq!(denied.len(), 6);
        assert!(denied.iter().all(|r| r.3 == "denied" && r.0.is_none()));
        let targets: Vec<_> = denied.iter().filter_map(|r| r.2.clone()).collect();
        assert_eq!(
            targets.iter().filter(|t| **t == bob.user_id).count(),
            3,
            "a known account is the target"
        );
        let pseudonym = email_pseudonym("nobody@example.com");
        assert_eq!(targets.iter().filter(|t| **t == pseudonym).count(), 3);
        let everything: Vec<(Option<String>, Option<String>, String)> =
            sqlx::query_as("SELECT actor, target, detail FROM audit_log")
                .fetch_all(w.db.pool())
                .await
                .expect("audit");
        assert!(
            !format!("{everything:?}").contains('@'),
            "no email in the audit log: {everything:?}"
        );
    })
    .await;
}
