//! Refused sign-ins: forged, expired and foreign access tokens, and sign-in
//! attempts rate-limited per account and per address.

use goonline_engine::ops::OpError;
use goonline_engine::testing::each_backend;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::common::auth::{PASSWORD, SECRET, ip, jwt_payload, now_secs, sign, unsigned, world};
use crate::support::code;

pub async fn forged_expired_and_foreign_tokens_are_refused() {
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

pub async fn sign_in_attempts_are_rate_limited_per_account_and_per_ip() {
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
