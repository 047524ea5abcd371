//! Identity and roles on live sockets, on SQLite and Postgres: signing in on each
//! dialect, refused tokens on every entry point, a viewer's edits refused in all
//! three dialects while reads work, live revocation within a second, the token's
//! expiry on an open socket (re-auth or close), sign-out closing sockets, and the
//! per-connection and per-user limits.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::{Dialect, Peer};
use common::{TestServer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::{AccessMode, ClientFrame, ServerFrame};
use serde_json::{Value, json};

/// A signed-in account.
struct Account {
    id: String,
    email: String,
    access: String,
    refresh: String,
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    if v[name].is_null() {
        &v["tokens"][name]
    } else {
        &v[name]
    }
}

/// Registers an account over the native socket (an anonymous connection may call
/// public operations).
async fn register(addr: SocketAddr, name: &str) -> Account {
    let mut p = Peer::native_at(addr).await;
    let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = p
        .call(
            "auth.register",
            json!({ "email": email, "password": "correct horse battery", "display_name": name }),
            None,
        )
        .await
        .expect("register");
    Account {
        id: r["user"]["id"].as_str().expect("user id").to_string(),
        email,
        access: field(&r, "access_token")
            .as_str()
            .expect("access token")
            .to_string(),
        refresh: field(&r, "refresh_token")
            .as_str()
            .expect("refresh")
            .to_string(),
    }
}

/// A fresh access token for `who`.
async fn login(addr: SocketAddr, who: &Account) -> String {
    let mut p = Peer::native_at(addr).await;
    let r = p
        .call(
            "auth.login",
            json!({ "email": who.email, "password": "correct horse battery" }),
            None,
        )
        .await
        .expect("login");
    field(&r, "access_token")
        .as_str()
        .expect("token")
        .to_string()
}

/// A business owned by a new account, with an agent (editor) and a viewer.
struct Shop {
    owner: Account,
    editor: Account,
    viewer: Account,
    business: String,
}

impl Shop {
    async fn open(addr: SocketAddr) -> Shop {
        let owner = register(addr, "owner").await;
        let editor = register(addr, "editor").await;
        let viewer = register(addr, "viewer").await;
        let mut p = Peer::native_signed_in(addr, Some(&owner.access)).await;
        let b = p
            .call("business.create", json!({ "name": "Shop" }), None)
            .await
            .expect("create");
        let business = b["id"].as_str().expect("id").to_string();
        for (who, role) in [(&editor, "agent"), (&viewer, "viewer")] {
            p.call(
                "member.add",
                json!({ "business_id": business, "email": who.email, "role": role }),
                None,
            )
            .await
            .expect("add");
        }
        Shop {
            owner,
            editor,
            viewer,
            business,
        }
    }

    fn doc(&self, name: &str) -> String {
        format!("biz/{}/{name}", self.business)
    }

    async fn owner_call(&self, addr: SocketAddr, method: &str, params: Value) -> Value {
        let mut p = Peer::native_signed_in(addr, Some(&self.owner.access)).await;
        p.call(method, params, None).await.expect(method)
    }
}

async fn server(db: TestDb) -> TestServer {
    TestServer::start(db, |a| a.security.allow_anonymous_docs = false).await
}

/// Tokens that must be refused: wrong signature, `alg: none`, and a payload
/// edited to claim platform admin.
fn forged_tokens(real: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = real.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&B64.decode(parts[1]).expect("payload b64")).expect("payload");
    payload["adm"] = json!(true);
    let edited = B64.encode(payload.to_string());
    let none = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    vec![
        (
            "bad signature",
            format!(
                "{}.{}.{}AAAA",
                parts[0],
                parts[1],
                &parts[2][..parts[2].len() - 4]
            ),
        ),
        ("alg none", format!("{none}.{}.", parts[1])),
        (
            "edited payload",
            format!("{}.{edited}.{}", parts[0], parts[2]),
        ),
        ("garbage", "not-a-token".to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_on_every_socket_dialect() {
    each_backend(|db: TestDb| async move {
        let server = server(db).await;
        let shop = Shop::open(server.addr).await;
        let doc = shop.doc("inventory");
        for (what, token) in forged_tokens(&shop.owner.access) {
            // native: hello with the token → error unauthorized, close 4401
            let mut p = Peer::raw_at(&server.url("/v1/ws"), Dialect::Native).await;
            p.send(
                ClientFrame::Hello {
                    version: 1,
                    client: None,
                    token: Some(token.clone()),
                }
                .encode(),
            )
            .await;
            assert_eq!(p.closed_with(WAIT).await, Some(4401), "native hello, {what}");
            // y-websocket: ?token= → close 4401
            let mut y = Peer::yws_signed_in(server.addr, &doc, Some(&token)).await;
            assert_eq!(y.closed_with(WAIT).await, Some(4401), "y-websocket, {what}");
            // Hocuspocus: the Auth token → PermissionDenied "unauthorized: …"
            let mut h = Peer::hocus(server.addr).await;
            h.token = token.clone();
            h.open(&doc).await;
            assert!(
                h.until(WAIT, |p| !p.hocus_auth.is_empty()).await,
                "hocuspocus answered, {what}"
            );
            assert!(
                h.hocus_auth[0].1.starts_with("denied:unauthorized"),
                "hocuspocus, {what}: {:?}",
                h.hocus_auth
            );
            // native `auth` on a live connection → 4401 as well
            let mut a = Peer::native_at(server.addr).await;
            a.send(ClientFrame::Auth { token }.encode()).await;
            assert_eq!(a.closed_with(WAIT).await, Some(4401), "native auth, {what}");
        }
        // No token at all: the business's documents are refused.
        let mut anon = Peer::native_at(server.addr).await;
        anon.open(&doc).await;
        assert!(anon.until(WAIT, |p| !p.errors.is_empty()).await);
        assert!(
            matches!(&anon.errors[0], ServerFrame::Error { code, .. } if code.as_str() == "unauthorized"),
            "{:?}",
            anon.errors
        );
        let mut y = Peer::yws(server.addr, &doc).await;
        assert_eq!(y.closed_with(WAIT).await, Some(4401), "y-websocket without a token");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_decide_who_opens_what() {
    each_backend(|db: TestDb| async move {
        let server = server(db).await;
        let shop = Shop::open(server.addr).await;
        let stranger = register(server.addr, "stranger").await;
        let mut s = Peer::native_signed_in(server.addr, Some(&stranger.access)).await;
        let mine = format!("user/{}/notes", stranger.id);
        s.open(&mine).await;
        assert!(
            s.until(WAIT, |p| p.synced.get(&mine) == Some(&true)).await,
            "own user doc"
        );
        for doc in [
            shop.doc("inventory"),
            format!("user/{}/notes", shop.owner.id),
            "plain-name".to_string(),
        ] {
            s.open(&doc).await;
            let refused = |p: &Peer| {
                p.errors.iter().any(|e| {
                    matches!(e, ServerFrame::Error { code, doc: Some(d), .. }
                        if code.as_str() == "forbidden" && *d == doc)
                })
            };
            assert!(
                s.until(WAIT, refused).await,
                "{doc} refused: {:?}",
                s.errors
            );
        }
        let mut y =
            Peer::yws_signed_in(server.addr, &shop.doc("inventory"), Some(&stranger.access)).await;
        assert_eq!(
            y.closed_with(WAIT).await,
            Some(4403),
            "y-websocket non-member"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_but_its_edits_are_refused_in_every_dialect() {
    each_backend(|db: TestDb| async move {
        let server = server(db).await;
        let shop = Shop::open(server.addr).await;
        let doc = shop.doc("inventory");
        let mut owner = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        owner.open(&doc).await;
        assert!(
            owner
                .until(WAIT, |p| p.synced.get(&doc) == Some(&true))
                .await
        );
        owner.append_text(&doc, "rice").await;

        // native viewer: told read_only on open, reads, its update is refused
        let mut v = Peer::native_signed_in(server.addr, Some(&shop.viewer.access)).await;
        v.open(&doc).await;
        assert!(
            v.until(WAIT, |p| p.text(&doc) == "rice").await,
            "viewer reads"
        );
        assert!(v.frames.iter().any(|f| matches!(
            f,
            ServerFrame::Access {
                mode: AccessMode::ReadOnly,
                ..
            }
        )));
        v.append_text(&doc, "X").await;
        assert!(v.until(WAIT, |p| !p.errors.is_empty()).await);
        assert!(
            matches!(&v.errors[0], ServerFrame::Error { code, .. } if code.as_str() == "forbidden")
        );

        // y-websocket viewer: permission-denied, socket stays open
        let mut y = Peer::yws_signed_in(server.addr, &doc, Some(&shop.viewer.access)).await;
        assert!(
            y.until(WAIT, |p| p.text(&doc) == "rice").await,
            "y-websocket viewer reads"
        );
        y.append_text(&doc, "Y").await;
        assert!(
            y.until(WAIT, |p| !p.errors.is_empty()).await,
            "permission denied"
        );
        assert!(y.closed.is_none());

        // Hocuspocus viewer: readonly scope, SyncStatus 0
        let mut h = Peer::hocus(server.addr).await;
        h.token = shop.viewer.access.clone();
        h.open(&doc).await;
        assert!(
            h.until(WAIT, |p| p.text(&doc) == "rice").await,
            "hocuspocus viewer reads"
        );
        assert_eq!(h.hocus_auth[0].1, "authenticated:readonly");
        h.append_text(&doc, "H").await;
        assert!(
            h.until(WAIT, |p| p.sync_status.contains(&false)).await,
            "refused"
        );

        // Nothing of theirs reached the owner or the store.
        // (Let anything in flight arrive before looking.)
        let _ = owner.until(Duration::from_millis(500), |_| false).await;
        assert_eq!(owner.text(&doc), "rice");
        let mut late = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
        late.open(&doc).await;
        assert!(
            late.until(WAIT, |p| p.synced.get(&doc) == Some(&true))
                .await
        );
        assert_eq!(
            late.text(&doc),
            "rice",
            "the store kept only the owner's edit"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_open_sockets_within_a_second() {
    each_backend(|db: TestDb| async move {
        let server = server(db).await;
        let shop = Shop::open(server.addr).await;
        let doc = shop.doc("prices");
        let mut n = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
        n.open(&doc).await;
        let mut y = Peer::yws_signed_in(server.addr, &doc, Some(&shop.editor.access)).await;
        let mut h = Peer::hocus(server.addr).await;
        h.token = shop.editor.access.clone();
        h.open(&doc).await;
        for p in [&mut n, &mut y, &mut h] {
            assert!(p.until(WAIT, |p| p.synced.get(&doc) == Some(&true)).await);
        }
        let t0 = Instant::now();
        shop.owner_call(
            server.addr,
            "member.set_role",
            json!({ "business_id": shop.business, "user_id": shop.editor.id, "role": "viewer" }),
        )
        .await;
        let second = Duration::from_secs(1);
        assert!(
            n.until(second, |p| p.frames.iter().any(|f| matches!(
                f,
                ServerFrame::Access {
                    mode: AccessMode::ReadOnly,
                    ..
                }
            )))
            .await,
            "native told read_only"
        );
        assert!(
            h.until(second, |p| p
                .hocus_auth
                .iter()
                .any(|(_, a)| a == "authenticated:readonly"))
                .await,
            "hocuspocus told readonly"
        );
        assert!(t0.elapsed() < second, "took {:?}", t0.elapsed());
        // Writes are refused now, on every dialect, without reconnecting.
        n.append_text(&doc, "n").await;
        assert!(n.until(WAIT, |p| !p.errors.is_empty()).await);
        y.append_text(&doc, "y").await;
        assert!(y.until(WAIT, |p| !p.errors.is_empty()).await);

        let t1 = Instant::now();
        shop.owner_call(
            server.addr,
            "member.remove",
            json!({ "business_id": shop.business, "user_id": shop.editor.id }),
        )
        .await;
        assert!(
            n.until(second, |p| p.frames.iter().any(|f| matches!(
                f,
                ServerFrame::Access {
                    mode: AccessMode::None,
                    ..
                }
            )))
            .await,
            "native told the doc is gone"
        );
        assert_eq!(
            y.closed_with(second).await,
            Some(4403),
            "y-websocket closed"
        );
        assert!(
            h.until(second, |p| p
                .hocus_auth
                .iter()
                .any(|(_, a)| a.starts_with("denied:forbidden")))
                .await,
            "hocuspocus denied"
        );
        assert!(
            t1.elapsed() < Duration::from_millis(1500),
            "took {:?}",
            t1.elapsed()
        );
        // The closed document no longer accepts anything from the native socket.
        n.append_text(&doc, "again").await;
        assert!(
            n.until(WAIT, |p| p.errors.iter().any(
                |e| matches!(e, ServerFrame::Error { code, .. } if code.as_str() == "doc_not_open")
            ))
            .await
        );
    })
    .await;
}

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
        let fresh = field(&pair, "access_token")
            .as_str()
            .expect("token")
            .to_string();
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
