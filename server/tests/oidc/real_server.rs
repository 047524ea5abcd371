//! Through the real server: a sign-in whose tokens come from the real identity
//! service and work over REST and the socket, refresh, audit and reuse; and
//! without OIDC configured, its paths are JSON 404s.

use std::net::SocketAddr;

use goonline_engine::testing::each_backend;
use goonline_server::identity::oidc::{CALLBACK_PATH, START_PATH};
use serde_json::json;

use crate::common::auth::{jwt_payload, str_field};
use crate::common::oidc_provider::{CLIENT_ID, CLIENT_SECRET, TestProvider, visit};
use crate::common::{Peer, TestServer, http};
use crate::rig::{ann, approved_callback, assert_error};

/// A port on 127.0.0.1 that was free a moment ago: bound, read and released,
/// for a server whose public URL (and so the redirect URI it registers) must
/// be known before it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `Authorization: Bearer <token>`.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub async fn sign_in_with_the_provider_through_the_real_server() {
    each_backend(|db| async move {
        let label = db.label;
        let provider = TestProvider::start(ann()).await;
        let issuer = provider.issuer.clone();
        let port = free_port();
        let server = TestServer::start(db, move |a| {
            a.listen = SocketAddr::from(([127, 0, 0, 1], port));
            a.security.public_url = Some(format!("http://127.0.0.1:{port}"));
            a.security.oidc_issuer = Some(issuer);
            a.security.oidc_client_id = Some(CLIENT_ID.into());
            a.security.oidc_client_secret = Some(CLIENT_SECRET.into());
        })
        .await;
        let addr = server.addr;
        let sql = server.db.store().await;

        // start -> the provider's approval -> our callback, over HTTP.
        let callback = approved_callback(&format!("http://{addr}"), &provider.issuer, label).await;
        let r = visit(&callback).await;
        assert_eq!(r.status, 200, "[{label}] callback: {r:?}");
        let tokens = r.json();
        assert_eq!(tokens["token_type"], "Bearer", "[{label}] {tokens}");
        assert_eq!(tokens["expires_in"], 900, "[{label}] {tokens}");
        let access = str_field(&tokens, "access_token");
        let refresh = str_field(&tokens, "refresh_token");
        let user: String = sqlx::query_scalar(
            "SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = 'sub-ann'",
        )
        .bind(&provider.issuer)
        .fetch_one(sql.pool())
        .await
        .expect("the account is linked");
        // A token of the real identity service, for a real sign-in session.
        let claims = jwt_payload(&access);
        assert_eq!(claims["sub"], user.as_str(), "[{label}] {claims}");
        let session = str_field(&claims, "sid");
        let sessions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM auth_sessions WHERE id = $1 AND user_id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(&session)
        .bind(&user)
        .fetch_one(sql.pool())
        .await
        .expect("sessions");
        assert_eq!(sessions, 1, "[{label}]");

        // The access token works over REST...
        let me = http::get(addr, "/api/me", &[("Authorization", &bearer(&access))]).await;
        assert_eq!(me.status, 200, "[{label}] {}", me.text());
        assert_eq!(me.json()["id"], user.as_str());
        assert_eq!(me.json()["email"], "ann@example.com");
        // ...and on a socket.
        let mut peer = Peer::native_signed_in(addr, Some(&access)).await;
        let me = peer.call("me.get", json!({}), None).await;
        assert_eq!(
            me.as_ref().map(|m| m["id"].clone()).ok(),
            Some(json!(user)),
            "[{label}] {me:?}"
        );

        // The refresh token rotates like a password sign-in's.
        let r = http::json(
            addr,
            "POST",
            "/api/auth/refresh",
            &[],
            &json!({ "refresh_token": refresh }),
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] refresh: {}", r.text());
        let renewed = r.json();
        let access2 = str_field(&renewed, "access_token");
        assert_ne!(str_field(&renewed, "refresh_token"), refresh, "rotated");
        assert_eq!(
            jwt_payload(&access2)["sid"],
            session.as_str(),
            "same session"
        );

        // The sign-in is in the audit log, as a platform admin reads it.
        sqlx::query("UPDATE users SET platform_admin = 1 WHERE id = $1")
            .bind(&user)
            .execute(sql.pool())
            .await
            .expect("promote");
        let r = http::get(
            addr,
            "/api/audit?action=auth.login",
            &[("Authorization", &bearer(&access2))],
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] audit.list: {}", r.text());
        let page = r.json();
        let entries = page["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 1, "[{label}] {page}");
        let entry = &entries[0];
        assert_eq!(entry["action"], "auth.login");
        assert_eq!(entry["actor"], user.as_str());
        assert_eq!(entry["target"], user.as_str());
        assert_eq!(entry["outcome"], "ok");
        assert_eq!(entry["detail"]["method"], "oidc", "[{label}] {entry}");
        assert_eq!(entry["detail"]["link"], "created", "[{label}] {entry}");
        assert_eq!(entry["ip"], "127.0.0.1");

        // The first refresh token again is reuse: the session ends.
        let r = http::json(
            addr,
            "POST",
            "/api/auth/refresh",
            &[],
            &json!({ "refresh_token": refresh }),
        )
        .await;
        assert_eq!(r.status, 401, "[{label}] reuse: {}", r.text());
        let me = http::get(addr, "/api/me", &[("Authorization", &bearer(&access2))]).await;
        assert_eq!(me.status, 401, "[{label}] {}", me.text());
        drop(peer);
        server.stop().await;
    })
    .await;
}

pub async fn without_oidc_configured_its_paths_are_json_404s() {
    each_backend(|db| async move {
        let label = db.label;
        let server = TestServer::start(db, |_| {}).await;
        for path in [
            START_PATH.to_string(),
            format!("{START_PATH}?mode=json"),
            format!("{CALLBACK_PATH}?code=abc&state=xyz"),
        ] {
            let r = visit(&format!("http://{}{path}", server.addr)).await;
            assert_error(&r, 404, "not_found", &format!("{label} {path}"));
        }
        server.stop().await;
    })
    .await;
}
