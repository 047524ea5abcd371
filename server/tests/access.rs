//! Identity and roles on live sockets, on SQLite and Postgres: refused tokens on
//! every entry point, namespaces, a viewer's edits refused in all three
//! dialects while reads work, and live revocation within a second. Token
//! expiry, sign-out and the limits are in `access_limits.rs`.

mod common;

use std::time::{Duration, Instant};

use common::WAIT;
use common::accounts::{Shop, forged_tokens, register, server};
use common::{Dialect, Peer};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::{AccessMode, ClientFrame, ServerFrame};
use serde_json::json;

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
