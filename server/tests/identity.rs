//! The identity service on SQLite and Postgres, in-process through the operation
//! registry (as both transports call it): accounts, sign-in, token rotation and
//! reuse detection, revocation (with live sessions closed), refused tokens,
//! rate limits, the audit trail, export and erasure, suspension, bad input, the
//! signing secret, and `goonline user create` run as the real binary.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::auth::{
    IdWorld, PASSWORD, SECRET, Signed, ip, jwt_payload, now_secs, security, sign, str_field,
    temp_dir, unsigned, world, world_with,
};
use goonline_engine::audit::email_pseudonym;
use goonline_engine::ops::idempotency::hex;
use goonline_engine::ops::{OpError, UserRef};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_engine::{Session, SessionEvents};
use goonline_protocol::codes::close;
use goonline_server::identity::Identity;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The code of an operation's outcome (`ok` for success).
fn code(r: &Result<Value, OpError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Asserts `r` is `invalid_argument` naming `field`.
#[track_caller]
fn assert_invalid(r: &Result<Value, OpError>, field: &str, what: &str) {
    match r {
        Err(OpError::InvalidArgument { field: f, .. }) => {
            assert_eq!(f, field, "{what}: the error names the field")
        }
        other => panic!("{what}: expected invalid_argument on `{field}`, got {other:?}"),
    }
}

/// A live engine session (as a socket would hold) signed in as `user` in
/// sign-in session `sid`.
fn live(w: &IdWorld, user: &str, sid: &str) -> (Session, SessionEvents) {
    let (mut s, ev) = w.engine.connect().expect("connect");
    s.set_user(UserRef {
        id: user.to_string(),
        platform_admin: false,
        session: sid.to_string(),
    });
    (s, ev)
}

/// Waits until `ev` is killed; returns the close code.
async fn closed_with(ev: &SessionEvents) -> u16 {
    tokio::time::timeout(Duration::from_secs(5), ev.kill.killed())
        .await
        .expect("the live session is closed")
        .0
}

fn sid(token: &str) -> String {
    str_field(&jwt_payload(token), "sid")
}

async fn refresh(w: &IdWorld, token: &str) -> Result<Value, OpError> {
    w.anon(ip(9), "auth.refresh", json!({ "refresh_token": token }))
        .await
}

/// Audit rows `(actor, action, target, outcome, detail)` with `action`.
async fn audit_rows(
    w: &IdWorld,
    action: &str,
) -> Vec<(Option<String>, String, Option<String>, String, String)> {
    sqlx::query_as(
        "SELECT actor, action, target, outcome, detail FROM audit_log WHERE action = $1 ORDER BY id",
    )
    .bind(action)
    .fetch_all(w.db.pool())
    .await
    .expect("audit rows")
}

#[tokio::test]
async fn register_login_and_me() {
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

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
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

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
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

#[tokio::test]
async fn logout_ends_only_this_session() {
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

#[tokio::test]
async fn change_password_revokes_every_session_and_issues_a_fresh_pair() {
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

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    each_backend(|db| async move {
        let w = world(&db, |_| {}).await;
        let a = w.register("frank@example.com", "Frank").await;
        let claims = jwt_payload(&a.access);
        let secret = SECRET.as_bytes();
        let with = |patch: Value| {
            let mut c = claims.clone();
            for (k, v) in patch.as_object().expect("object") {
                if v.is_null() {
                    c.as_object_mut().expect("object").remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        };
        // Control: a token we build the same way with the real secret works.
        let fine = sign(&claims, secret, Algorithm::HS256);
        w.identity.authenticate(&fine).await.expect("control token");

        let now = now_secs();
        let mut tampered: Vec<&str> = a.access.split('.').collect();
        let raised = serde_json::to_vec(&with(json!({ "adm": true }))).expect("json");
        let raised =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raised);
        tampered[1] = &raised;
        let cases: Vec<(&str, String)> = vec![
            (
                "wrong secret",
                sign(
                    &claims,
                    b"another-secret-another-secret-another!",
                    Algorithm::HS256,
                ),
            ),
            ("alg none", unsigned(&claims)),
            ("alg none, admin", unsigned(&with(json!({ "adm": true })))),
            (
                "expired",
                sign(
                    &with(json!({ "iat": now - 1000, "exp": now - 100 })),
                    secret,
                    Algorithm::HS256,
                ),
            ),
            (
                "expired two seconds ago (no leeway)",
                sign(
                    &with(json!({ "iat": now - 902, "exp": now - 2 })),
                    secret,
                    Algorithm::HS256,
                ),
            ),
            (
                "wrong audience",
                sign(
                    &with(json!({ "aud": "someone-else" })),
                    secret,
                    Algorithm::HS256,
                ),
            ),
            (
                "no audience",
                sign(&with(json!({ "aud": null })), secret, Algorithm::HS256),
            ),
            (
                "wrong issuer",
                sign(&with(json!({ "iss": "evil" })), secret, Algorithm::HS256),
            ),
            (
                "no expiry",
                sign(&with(json!({ "exp": null })), secret, Algorithm::HS256),
            ),
            ("HS512", sign(&claims, secret, Algorithm::HS512)),
            ("tampered payload", tampered.join(".")),
            (
                "another user's session",
                sign(&with(json!({ "sub": "someone" })), secret, Algorithm::HS256),
            ),
            ("garbage", "abc.def.ghi".into()),
            ("empty", String::new()),
        ];
        for (what, token) in cases {
            match w.identity.authenticate(&token).await {
                Err(OpError::Unauthorized(_)) => {}
                other => panic!(
                    "[{}] {what}: expected unauthorized, got {other:?}",
                    db.label
                ),
            }
        }
        match w
            .identity
            .authenticate(&sign(
                &with(json!({ "exp": now - 100 })),
                secret,
                Algorithm::HS256,
            ))
            .await
        {
            Err(OpError::Unauthorized(m)) => assert!(m.contains("expired"), "{m}"),
            other => panic!("expired: {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_account_and_per_ip() {
    each_backend(|db| async move {
        let w = world(&db, |s| {
            s.login_attempts_per_account = 3;
            s.login_attempts_per_ip = 6;
        })
        .await;
        // Registrations come from ip(1) and take one account attempt each.
        w.register("gina@example.com", "Gina").await;
        w.register("hank@example.com", "Hank").await;
        w.register("ivy@example.com", "Ivy").await;
        w.login(ip(2), "gina@example.com", PASSWORD)
            .await
            .expect("a success resets the account's attempts");

        for _ in 0..3 {
            let r = w.login(ip(2), "gina@example.com", "wrong password").await;
            assert!(matches!(r, Err(OpError::Unauthorized(_))), "{r:?}");
        }
        match w.login(ip(3), "gina@example.com", PASSWORD).await {
            Err(OpError::RateLimited { retry_after, .. }) => {
                assert!((1..=600).contains(&retry_after), "{retry_after}")
            }
            other => panic!("[{}] expected rate_limited, got {other:?}", db.label),
        }
        let again = w
            .anon(
                ip(4),
                "auth.register",
                json!({ "email": "gina@example.com", "password": PASSWORD, "display_name": "G" }),
            )
            .await;
        assert_eq!(code(&again), "rate_limited", "registration counts too");

        w.login(ip(5), "hank@example.com", PASSWORD)
            .await
            .expect("another account from another address is unaffected");

        // A successful sign-in forgets the account's failures.
        assert!(
            w.login(ip(6), "ivy@example.com", "wrong password")
                .await
                .is_err()
        );
        w.login(ip(6), "ivy@example.com", PASSWORD)
            .await
            .expect("within the limit");
        for _ in 0..3 {
            let r = w.login(ip(7), "ivy@example.com", "wrong password").await;
            assert!(matches!(r, Err(OpError::Unauthorized(_))), "reset: {r:?}");
        }

        // Per address: six attempts on different accounts, then refused even
        // with the right password.
        for n in 0..6 {
            let r = w
                .login(ip(8), &format!("unknown{n}@example.com"), "wrong password")
                .await;
            assert!(matches!(r, Err(OpError::Unauthorized(_))), "{r:?}");
        }
        match w.login(ip(8), "hank@example.com", PASSWORD).await {
            Err(OpError::RateLimited { message, .. }) => {
                assert!(message.contains("address"), "{message}")
            }
            other => panic!("[{}] expected rate_limited, got {other:?}", db.label),
        }
    })
    .await;
}

#[tokio::test]
async fn critical_actions_are_audited_and_admins_can_read_the_log() {
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
        let logins = w
            .with_token(
                &admin.access,
                "audit.list",
                json!({ "action": "auth.login", "limit": 100000 }),
            )
            .await
            .expect("filtered, limit capped");
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

#[tokio::test]
async fn me_export_holds_everything_about_the_caller() {
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

#[tokio::test]
async fn me_delete_erases_personal_data_and_frees_the_email() {
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

#[tokio::test]
async fn suspension_signs_out_and_blocks_sign_in_until_lifted() {
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

#[tokio::test]
async fn bad_input_names_the_field() {
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

/// Runs `goonline user create` with `base` and `args`, feeding `stdin`; returns success,
/// stdout and stderr.
async fn user_create(base: &[&str], args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_goonline"))
        .args(["user", "create"])
        .args(base)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn goonline");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("write stdin");
    }
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finishes")
        .expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn cli_user_create_makes_a_platform_admin_who_can_sign_in() {
    each_backend(|db| async move {
        let dir = temp_dir("cli");
        let dir_s = dir.display().to_string();
        let base = [
            "--data-dir",
            dir_s.as_str(),
            "--database-url",
            db.url.as_str(),
        ];
        let (ok, out, err) = user_create(
            &base,
            &[
                "--email",
                "Root@Example.com",
                "--name",
                "Root",
                "--platform-admin",
                "--password-stdin",
            ],
            Some("root password 1\n"),
        )
        .await;
        assert!(ok, "[{}] user create: {err}", db.label);
        let root_id = out.lines().next().expect("the id").trim().to_string();
        assert_eq!(root_id.len(), 36, "a UUID: {out}");
        assert!(
            !out.contains("root password 1"),
            "a given password is not echoed"
        );

        let w = world(&db, |_| {}).await;
        let root = w
            .login(ip(2), "root@example.com", "root password 1")
            .await
            .expect("the admin signs in");
        assert_eq!(root.user_id, root_id);
        assert_eq!(root.body["user"]["platform_admin"], true);
        assert_eq!(root.body["user"]["display_name"], "Root");
        assert!(
            w.identity
                .authenticate(&root.access)
                .await
                .expect("token")
                .user
                .platform_admin
        );
        w.with_token(&root.access, "audit.list", json!({}))
            .await
            .expect("admins read the audit log");

        let (ok, _, err) = user_create(&base, &["--email", "root@example.com"], None).await;
        assert!(!ok, "an existing email without --platform-admin is refused");
        assert!(err.contains("already exists"), "{err}");

        // A generated password, printed once; then promoted.
        let (ok, out, err) = user_create(&base, &["--email", "gen@example.com"], None).await;
        assert!(ok, "{err}");
        let mut lines = out.lines();
        let gen_id = lines.next().expect("id").trim().to_string();
        let password = lines
            .next()
            .and_then(|l| l.strip_prefix("password: "))
            .expect("the generated password")
            .to_string();
        let generated = w
            .login(ip(3), "gen@example.com", &password)
            .await
            .expect("the generated password works");
        assert_eq!(generated.body["user"]["platform_admin"], false);
        assert_eq!(generated.body["user"]["display_name"], "gen");
        let (ok, out, err) = user_create(
            &base,
            &["--email", "gen@example.com", "--platform-admin"],
            None,
        )
        .await;
        assert!(ok, "{err}");
        assert_eq!(out.lines().next().map(str::trim), Some(gen_id.as_str()));
        assert!(
            w.identity
                .authenticate(&generated.access)
                .await
                .expect("still valid")
                .user
                .platform_admin,
            "promoted"
        );

        let (ok, _, _) = user_create(
            &base,
            &["--email", "weak@example.com", "--password-stdin"],
            Some("short\n"),
        )
        .await;
        assert!(!ok, "a short password is refused");
        let (ok, _, _) = user_create(&base, &["--email", "not-an-email"], None).await;
        assert!(!ok, "a bad email is refused");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(w.db.pool())
            .await
            .expect("count");
        assert_eq!(n, 2, "nothing else was created");
        let created = audit_rows(&w, "user.created").await;
        assert_eq!(created.len(), 2);
        assert_eq!(audit_rows(&w, "user.promoted").await.len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    })
    .await;
}

#[tokio::test]
async fn cli_user_create_defaults_to_sqlite_in_the_data_dir() {
    let dir = temp_dir("cli-default");
    let dir_s = dir.display().to_string();
    let (ok, out, err) = user_create(
        &["--data-dir", &dir_s],
        &["--email", "solo@example.com", "--password-stdin"],
        Some("solo password\n"),
    )
    .await;
    assert!(ok, "{err}");
    let id = out.lines().next().expect("id").trim().to_string();
    let db = goonline_engine::sql_store::SqlStore::connect(&format!(
        "sqlite://{}?mode=rw",
        dir.join("goonline.db").display()
    ))
    .await
    .expect("the database is in the data dir");
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(db.pool())
        .await
        .expect("user");
    assert_eq!(email.as_deref(), Some("solo@example.com"));
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_signing_secret_is_generated_once_and_validated() {
    let db = TestDb::sqlite();
    let mut sec = security();
    sec.jwt_secret = None;
    let dir = temp_dir("secret").join("nested");
    let w1 = world_with(&db, &sec, dir.clone()).await;
    let file = dir.join("jwt-secret");
    let text = std::fs::read_to_string(&file).expect("generated into the data dir");
    assert!(text.trim().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    let a: Signed = w1.register("quinn@example.com", "Quinn").await;

    let w2 = world_with(&db, &sec, dir.clone()).await;
    w2.identity
        .authenticate(&a.access)
        .await
        .expect("a restart reads the same secret back");
    assert_eq!(std::fs::read_to_string(&file).expect("file"), text);

    let elsewhere = world_with(&db, &sec, temp_dir("secret-other")).await;
    assert!(
        elsewhere.identity.authenticate(&a.access).await.is_err(),
        "another secret, another signer"
    );
    let mut configured = sec.clone();
    configured.jwt_secret = Some(text.trim().to_string());
    let w3 = world_with(&db, &configured, temp_dir("secret-configured")).await;
    w3.identity
        .authenticate(&a.access)
        .await
        .expect("the file's contents work as --jwt-secret on another node");

    let mut short = sec.clone();
    short.jwt_secret = Some("only-31-bytes-long-secret-value".into());
    assert_eq!(short.jwt_secret.as_deref().map(str::len), Some(31));
    let store = db.store().await;
    let engine = goonline_engine::testing::start_engine(
        std::sync::Arc::new(store.clone()),
        goonline_engine::EngineConfig::default(),
    );
    let refused = Identity::new(
        store.clone(),
        engine,
        goonline_engine::audit::AuditLog::new(store),
        &short,
        &temp_dir("secret-short"),
        "http://localhost".into(),
    )
    .await;
    assert!(refused.is_err(), "a short --jwt-secret is a startup error");
    for d in [
        dir.parent().map(|p| p.to_path_buf()).unwrap_or(dir),
        w1.data_dir.clone(),
    ] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn a_server_starts_with_identity_and_generates_its_secret() {
    let dir = temp_dir("server-data");
    let data = dir.clone();
    let server = common::TestServer::start(TestDb::sqlite(), move |a| {
        a.data_dir = data;
    })
    .await;
    assert!(dir.join("jwt-secret").exists());
    let (status, _) = server.http_get("/healthz").await;
    assert_eq!(status, 200);
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

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

#[tokio::test]
async fn purge_deletes_only_what_no_one_can_use() {
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

        let tokens_before = all_tokens(&w).await;
        let purged = w.identity.purge_expired().await.expect("purge");
        // Tokens: ann's first, both of the stale session, both signed-out
        // ones; sessions: the stale and the old signed-out one; one sign-in.
        assert_eq!(purged, 5 + 2 + 1, "[{}]", w.label);
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
