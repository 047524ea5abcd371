//! Trusting the provider: tampered ID tokens refused, HMAC-signed ones
//! accepted, `client_secret_post` when that is all it offers, a wrong client
//! secret refused, an unreachable or mismatched provider unavailable.

use goonline_engine::testing::each_backend;
use goonline_server::identity::oidc::START_PATH;
use tokio::net::TcpListener;

use crate::common::oidc_provider::{CLIENT_SECRET, Tamper, TestProvider, visit};
use crate::rig::{Rig, ann, assert_error};

pub async fn tampered_id_tokens_are_refused() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        // Each refused for its own reason, not some other.
        for (tamper, why) in [
            (Tamper::ForeignKey, "bad signature"),
            (Tamper::WrongAudience, "another client"),
            (Tamper::WrongNonce, "nonce"),
            (Tamper::WrongIssuer, "another issuer"),
            (Tamper::Expired, "expired"),
            (Tamper::Unsigned, "malformed"),
            (Tamper::HmacWrongSecret, "bad signature"),
            (Tamper::NoIdToken, "no id_token"),
        ] {
            rig.provider.set_tamper(tamper);
            let r = rig.sign_in().await;
            let body = assert_error(&r, 401, "unauthorized", rig.label);
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(why),
                "[{}] {tamper:?}: {message}",
                rig.label
            );
        }
        assert!(rig.sessions.users().is_empty());
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 0);
        let logins = rig.logins().await;
        assert!(logins.iter().all(|(o, _, _)| o == "denied"), "{logins:?}");
    })
    .await;
}

pub async fn an_id_token_signed_with_the_client_secret_is_accepted() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        rig.provider.set_tamper(Tamper::HmacClientSecret);
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
    })
    .await;
}

pub async fn client_secret_post_when_the_provider_only_offers_that() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        rig.provider
            .configure(|o| o.auth_methods = vec!["client_secret_post"]);
        assert_eq!(rig.sign_in().await.status, 200);
        assert_eq!(rig.provider.client_auth_methods(), vec!["post"]);
    })
    .await;
}

pub async fn a_wrong_client_secret_is_refused() {
    each_backend(|db| async move {
        let provider = TestProvider::start(ann()).await;
        let issuer = provider.issuer.clone();
        let rig = Rig::with_issuer(db, provider, issuer, "not-the-secret").await;
        let body = assert_error(&rig.sign_in().await, 401, "unauthorized", rig.label);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid_client"),
            "{body}"
        );
    })
    .await;
}

pub async fn an_unreachable_or_mismatched_provider_is_unavailable() {
    each_backend(|db| async move {
        // Nobody listens on a port we bound and released.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let provider = TestProvider::start(ann()).await;
        let rig = Rig::with_issuer(db, provider, closed, CLIENT_SECRET).await;
        assert_error(
            &visit(&rig.url(START_PATH)).await,
            503,
            "unavailable",
            rig.label,
        );
        let r = visit(&rig.url(&format!("{START_PATH}?mode=json"))).await;
        assert_error(&r, 503, "unavailable", rig.label);
    })
    .await;
    each_backend(|db| async move {
        // Discovery that names another issuer is not trusted.
        let rig = Rig::start(db, ann()).await;
        rig.provider
            .configure(|o| o.advertised_issuer = Some("https://evil.example".into()));
        assert_error(
            &visit(&rig.url(START_PATH)).await,
            503,
            "unavailable",
            rig.label,
        );
        assert_eq!(rig.count("SELECT COUNT(*) FROM oidc_pending").await, 0);
    })
    .await;
}
