//! Signed-in sockets over time and under limits, on SQLite and Postgres: an
//! expired token renewed in place or the socket closed, sign-out closing
//! sockets, frame and per-user connection limits, the origin check, and the
//! Hocuspocus address bound.

mod common;

use std::time::{Duration, Instant};

use common::accounts::{login, register, server};
use common::{Dialect, Peer};
use common::{TestServer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::{ClientFrame, ServerFrame};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_in_place_or_the_socket_closes() {
    each_backend(|db: TestDb| async move {
        let server = TestServer::start(db, |a| {
            a.security.allow_anonymous_docs = false;
            a.security.access_token_ttl_secs = 2;
            a.security.reauth_grace_secs = 2;
        })
        .await;
        let me = register(server.addr, "me").await;
        let doc = format!("user/{}/notes", me.id);
        let mut p = Peer::native_signed_in(server.addr, Some(&me.access)).await;
        p.open(&doc).await;
        let is_reauth = |f: &ServerFrame| matches!(f, ServerFrame::Reauth { .. });
        assert!(
            p.until(Duration::from_secs(5), |p| p.frames.iter().any(is_reauth))
                .await,
            "reauth asked"
        );
        // Renew: refresh over the same socket, present the new access token.
        let pair = p
            .call("auth.refresh", json!({ "refresh_token": me.refresh }), None)
            .await
            .expect("refresh");
        let fresh = pair["access_token"].as_str().expect("token").to_string();
        p.send(ClientFrame::Auth { token: fresh }.encode()).await;
        assert!(
            p.until(WAIT, |p| p
                .frames
                .iter()
                .any(|f| matches!(f, ServerFrame::Authenticated { .. })))
                .await,
            "authenticated"
        );
        // The session lives on past the first token's deadline and keeps editing.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        p.append_text(&doc, "still here").await;
        assert!(
            p.until(WAIT, |p| !p.acks.is_empty()).await,
            "edit acknowledged after renewal"
        );
        assert!(p.closed.is_none());

        // A socket that does not renew is closed with 4401 after the grace.
        let token = login(server.addr, &me).await;
        let mut q = Peer::native_signed_in(server.addr, Some(&token)).await;
        let started = Instant::now();
        assert_eq!(q.closed_with(Duration::from_secs(8)).await, Some(4401));
        assert!(
            started.elapsed() >= Duration::from_millis(1500),
            "not before the grace"
        );
        // Hocuspocus gets the token request.
        let fresh = login(server.addr, &me).await;
        let mut h = Peer::hocus(server.addr).await;
        h.token = fresh;
        h.open(&doc).await;
        assert!(
            h.until(Duration::from_secs(5), |p| p
                .hocus_auth
                .iter()
                .any(|(_, a)| a == "token_request"))
                .await,
            "hocuspocus token request"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_closes_that_sessions_sockets() {
    each_backend(|db: TestDb| async move {
        let server = server(db).await;
        let me = register(server.addr, "me").await;
        let mut open = Peer::native_signed_in(server.addr, Some(&me.access)).await;
        let mut y =
            Peer::yws_signed_in(server.addr, &format!("user/{}/a", me.id), Some(&me.access)).await;
        assert!(y.until(WAIT, |p| p.synced.values().any(|s| *s)).await);
        let mut caller = Peer::native_signed_in(server.addr, Some(&me.access)).await;
        caller
            .call("auth.logout", json!({}), None)
            .await
            .expect("logout");
        assert_eq!(open.closed_with(WAIT).await, Some(4401), "native closed");
        assert_eq!(y.closed_with(WAIT).await, Some(4401), "y-websocket closed");
        // The token is dead everywhere now.
        let mut again = Peer::raw_at(&server.url("/v1/ws"), Dialect::Native).await;
        again
            .send(
                ClientFrame::Hello {
                    version: 1,
                    client: None,
                    token: Some(me.access.clone()),
                }
                .encode(),
            )
            .await;
        assert_eq!(again.closed_with(WAIT).await, Some(4401));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_and_connection_limits_trigger_and_recover() {
    each_backend(|db: TestDb| async move {
        let server = TestServer::start(db, |a| {
            a.security.allow_anonymous_docs = true;
            a.security.max_frames_per_sec = 10;
            a.security.max_connections_per_user = 2;
        })
        .await;
        // native: frames over the budget are answered rate_limited, then it refills
        let mut p = Peer::native(&server).await;
        for _ in 0..40 {
            p.send(ClientFrame::Ping { ts: Some(1) }.encode()).await;
        }
        assert!(
            p.until(WAIT, |p| p.errors.iter().any(
                |e| matches!(e, ServerFrame::Error { code, .. } if code.as_str() == "rate_limited")
            ))
            .await,
            "rate limited"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let pongs = p.pongs;
        p.send(ClientFrame::Ping { ts: Some(2) }.encode()).await;
        assert!(p.until(WAIT, |p| p.pongs > pongs).await, "recovered");
        // y-websocket: closed 4430
        let mut y = Peer::yws(server.addr, "flood").await;
        for _ in 0..60 {
            y.set_awareness("flood", 1, "{}").await;
        }
        assert_eq!(y.closed_with(WAIT).await, Some(4430));
        // connections per user
        let me = register(server.addr, "me").await;
        let _a = Peer::native_signed_in(server.addr, Some(&me.access)).await;
        let _b = Peer::native_signed_in(server.addr, Some(&me.access)).await;
        let mut c = Peer::raw_at(&server.url("/v1/ws"), Dialect::Native).await;
        c.send(
            ClientFrame::Hello {
                version: 1,
                client: None,
                token: Some(me.access.clone()),
            }
            .encode(),
        )
        .await;
        assert_eq!(
            c.closed_with(WAIT).await,
            Some(1013),
            "third connection refused"
        );
        drop(_a);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _d = Peer::native_signed_in(server.addr, Some(&me.access)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_from_other_origins_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;

    each_backend(|db: TestDb| async move {
        let server = TestServer::start(db, |a| {
            a.security.cors_origins = vec!["https://shop.example".into()];
        })
        .await;
        for path in ["/v1/ws", "/y/plain-doc", "/hocuspocus"] {
            let upgrade = |origin: Option<&'static str>| {
                let mut req = server.url(path).into_client_request().expect("request");
                if let Some(o) = origin {
                    req.headers_mut()
                        .insert("origin", HeaderValue::from_static(o));
                }
                tokio_tungstenite::connect_async(req)
            };
            // A page on another site may not open a socket with the user's cookies or
            // tokens in its hands (cross-site WebSocket hijacking).
            match upgrade(Some("https://evil.example")).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                    assert_eq!(resp.status(), 403, "{path}");
                }
                other => panic!(
                    "{path}: expected HTTP 403, got {:?}",
                    other.map(|_| "a socket")
                ),
            }
            assert!(
                upgrade(Some("https://shop.example")).await.is_ok(),
                "{path}: allowed origin"
            );
            assert!(
                upgrade(None).await.is_ok(),
                "{path}: no Origin (not a browser)"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_hocuspocus_address_closes_the_socket() {
    each_backend(|db: TestDb| async move {
        let server = TestServer::start(db, |a| a.security.allow_anonymous_docs = true).await;
        let mut h = Peer::hocus(server.addr).await;
        // A short document name with a huge "session" part after the \0: each
        // address is kept per membership and every broadcast re-encoded for it.
        let address = format!("notes\0{}", "x".repeat(64 * 1024));
        h.open(&address).await;
        assert_eq!(h.closed_with(WAIT).await, Some(1002));
        // A normal session-aware address still works.
        let mut ok = Peer::hocus(server.addr).await;
        let address = format!("notes\0{}", uuid::Uuid::new_v4());
        ok.open(&address).await;
        assert!(
            ok.until(WAIT, |p| p.synced.get(&address) == Some(&true))
                .await
        );
    })
    .await;
}
