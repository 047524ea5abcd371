//! The start and callback routes: a state is good once, bad callbacks answer
//! JSON errors, the JSON mode hands out a PKCE authorization URL, and a wrong
//! PKCE verifier is refused by the provider.

use goonline_engine::testing::each_backend;
use goonline_server::identity::oidc::{CALLBACK_PATH, START_PATH};

use crate::common::oidc_provider::{CLIENT_ID, RawResponse, visit};
use crate::rig::{Rig, ann, assert_error, query_param};

pub async fn a_state_is_good_for_one_callback() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let callback = rig.approved_callback().await;
        assert_eq!(visit(&callback).await.status, 200);
        let body = assert_error(&visit(&callback).await, 400, "invalid_argument", rig.label);
        assert_eq!(body["error"]["field"], "state");
        assert_eq!(rig.sessions.users().len(), 1);
    })
    .await;
}

pub async fn bad_callbacks_answer_json_errors() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let callback = |query: &str| visit_owned(rig.url(&format!("{CALLBACK_PATH}{query}")));
        let label = rig.label;

        let body = assert_error(&callback("").await, 400, "invalid_argument", label);
        assert_eq!(body["error"]["field"], "state");
        let r = callback("?code=abc&state=never-issued").await;
        assert_eq!(
            assert_error(&r, 400, "invalid_argument", label)["error"]["field"],
            "state"
        );

        let state = rig.started_state().await;
        let r = callback(&format!("?state={state}")).await;
        assert_eq!(
            assert_error(&r, 400, "invalid_argument", label)["error"]["field"],
            "code"
        );
        // The state was spent by that attempt.
        let r = callback(&format!("?code=abc&state={state}")).await;
        assert_error(&r, 400, "invalid_argument", label);

        // The user said no at the provider.
        rig.provider.configure(|o| o.deny = true);
        let denied = visit(&rig.approved_callback().await).await;
        assert_error(&denied, 401, "unauthorized", label);
        rig.provider.configure(|o| o.deny = false);

        // Older than ten minutes.
        let state = rig.started_state().await;
        sqlx::query("UPDATE oidc_pending SET created_at = created_at - 660000 WHERE state = $1")
            .bind(&state)
            .execute(rig.db.pool())
            .await
            .expect("age the state");
        let r = callback(&format!("?code=abc&state={state}")).await;
        let body = assert_error(&r, 400, "invalid_argument", label);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{body}"
        );

        let r = visit(&rig.url(&format!("{START_PATH}?mode=xml"))).await;
        assert_error(&r, 400, "invalid_argument", label);
        assert!(rig.sessions.users().is_empty());
    })
    .await;
}

async fn visit_owned(url: String) -> RawResponse {
    visit(&url).await
}

pub async fn json_mode_hands_out_a_pkce_authorization_url() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let r = visit(&rig.url(&format!("{START_PATH}?mode=json"))).await;
        assert_eq!(r.status, 200, "{r:?}");
        let url = reqwest::Url::parse(r.json()["authorize_url"].as_str().unwrap()).unwrap();
        assert!(
            url.as_str()
                .starts_with(&format!("{}/authorize?", rig.provider.issuer))
        );
        let p = |k| query_param(&url, k).unwrap_or_default();
        assert_eq!(p("response_type"), "code");
        assert_eq!(p("client_id"), CLIENT_ID);
        assert_eq!(p("redirect_uri"), rig.url(CALLBACK_PATH));
        assert_eq!(p("scope"), "openid email profile");
        assert_eq!(p("code_challenge_method"), "S256");
        assert_eq!(p("code_challenge").len(), 43);
        assert!(p("nonce").len() >= 43 && p("state").len() >= 43);
        let (verifier, nonce): (String, String) =
            sqlx::query_as("SELECT verifier, nonce FROM oidc_pending WHERE state = $1")
                .bind(p("state"))
                .fetch_one(rig.db.pool())
                .await
                .expect("pending row");
        assert_eq!(nonce, p("nonce"));
        assert_ne!(verifier, p("code_challenge"), "only the challenge leaves");
    })
    .await;
}

pub async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let callback = rig.approved_callback().await;
        let state = query_param(&reqwest::Url::parse(&callback).unwrap(), "state").unwrap();
        sqlx::query("UPDATE oidc_pending SET verifier = $1 WHERE state = $2")
            .bind("x".repeat(43))
            .bind(&state)
            .execute(rig.db.pool())
            .await
            .expect("swap the verifier");
        let body = assert_error(&visit(&callback).await, 401, "unauthorized", rig.label);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid_grant"),
            "{body}"
        );
        assert!(rig.sessions.users().is_empty());
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 0);
    })
    .await;
}
