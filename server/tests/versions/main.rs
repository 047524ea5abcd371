//! Document versions over real HTTP and real native sockets, on SQLite and
//! Postgres: the REST routes of every `version.*` operation, a restore that
//! reaches two open editors (and their later edits still merge), and an
//! automatic version once editing goes quiet (the server's flags wired in).

#[path = "../common/mod.rs"]
mod common;

use std::net::SocketAddr;

use common::accounts::Shop;
use common::http::{self, Response};
use common::{Peer, TestServer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};

/// A server with fast activity timers and automatic versions after 1 s.
async fn server(db: TestDb) -> TestServer {
    TestServer::start(db, |a| {
        a.security.allow_anonymous_docs = false;
        a.docs.auto_version_quiet_secs = 1;
        a.docs.activity_flush_ms = 50;
        a.docs.doc_changed_quiet_secs = 1;
    })
    .await
}

/// `/api/docs/{doc}/versions{rest}`, the document name as one segment.
fn path(doc: &str, rest: &str) -> String {
    format!("/api/docs/{}/versions{rest}", doc.replace('/', "%2F"))
}

async fn get(addr: SocketAddr, token: &str, path: &str) -> Response {
    let auth = format!("Bearer {token}");
    http::get(addr, path, &[("Authorization", auth.as_str())]).await
}

async fn post(addr: SocketAddr, token: &str, path: &str, body: Value) -> Response {
    let auth = format!("Bearer {token}");
    http::json(
        addr,
        "POST",
        path,
        &[("Authorization", auth.as_str())],
        &body,
    )
    .await
}

/// Waits until `p` has the ack `id`.
async fn acked(p: &mut Peer, id: u64) {
    assert!(p.until(WAIT, |p| p.acks.contains(&id)).await, "no ack {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_over_rest_reaches_two_open_editors_and_later_edits_merge() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = server(db).await;
        let addr = server.addr;
        let shop = Shop::open(addr).await;
        let doc = shop.doc("price-list");
        let (owner, editor, viewer) = (
            shop.owner.access.as_str(),
            shop.editor.access.as_str(),
            shop.viewer.access.as_str(),
        );
        let mut a = Peer::native_signed_in(addr, Some(owner)).await;
        let mut b = Peer::native_signed_in(addr, Some(editor)).await;
        a.open(&doc).await;
        b.open(&doc).await;
        a.set_key(&doc, "tea", "5").await;
        let id = a.append_text(&doc, "Hello").await;
        acked(&mut a, id).await;

        let r = post(
            addr,
            owner,
            &path(&doc, ""),
            json!({ "label": "Good prices" }),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let version = r.json()["id"].as_str().expect("id").to_string();

        // Both of a's edits, not just the text: a late joiner may get a later
        // update before the catch-up holding an earlier one, and a price set
        // without having seen the old one is concurrent with it (either wins).
        assert!(
            b.until(WAIT, |p| p.text(&doc) == "Hello"
                && p.map_json(&doc).contains("\"5\""))
                .await,
            "[{l}]"
        );
        b.set_key(&doc, "tea", "9").await;
        let id = b.append_text(&doc, " world").await;
        acked(&mut b, id).await;
        assert!(
            a.until(WAIT, |p| p.text(&doc) == "Hello world").await,
            "[{l}]"
        );

        // Read it back, and what changed since, over REST.
        let r = get(addr, viewer, &path(&doc, "")).await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        assert_eq!(r.json()["versions"][0]["id"], json!(version), "[{l}]");
        let r = get(
            addr,
            viewer,
            &path(&doc, &format!("/{version}?format=json")),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        assert_eq!(
            r.json()["content"],
            json!({ "t": "Hello", "m": { "tea": "5" } }),
            "[{l}]"
        );
        let diff = format!(
            "/api/docs/{}/diff?from={version}&to=current",
            doc.replace('/', "%2F")
        );
        let r = get(addr, viewer, &diff).await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let diff = r.json();
        assert_eq!(diff["authors"], json!([shop.editor.id]), "[{l}] {diff}");
        assert_eq!(
            diff["roots"],
            json!([
                { "root": "m", "editors": [shop.editor.id] },
                { "root": "t", "editors": [shop.editor.id] },
            ]),
            "[{l}] {diff}"
        );

        // A viewer may not restore; a member who edits may.
        let restore = path(&doc, &format!("/{version}/restore"));
        let r = post(addr, viewer, &restore, json!({})).await;
        assert_eq!(r.status, 403, "[{l}] {}", r.text());
        let r = post(addr, editor, &restore, json!({})).await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        assert_eq!(r.json()["restored"], true, "[{l}]");

        let restored = |p: &Peer| p.text(&doc) == "Hello" && p.map_json(&doc).contains("\"5\"");
        assert!(
            a.until(WAIT, restored).await,
            "[{l}] a: {:?}",
            a.state(&doc)
        );
        assert!(
            b.until(WAIT, restored).await,
            "[{l}] b: {:?}",
            b.state(&doc)
        );
        let id = a.append_text(&doc, "!").await;
        acked(&mut a, id).await;
        assert!(b.until(WAIT, |p| p.text(&doc) == "Hello!").await, "[{l}]");
        assert_eq!(a.state(&doc).1, b.state(&doc).1, "[{l}]");

        // Quiet for a second: an automatic version of the latest content.
        let mut auto = None;
        let deadline = tokio::time::Instant::now() + WAIT;
        while auto.is_none() && tokio::time::Instant::now() < deadline {
            let list = get(addr, viewer, &path(&doc, "")).await.json();
            auto = list["versions"]
                .as_array()
                .and_then(|v| v.iter().find(|v| v["kind"] == "auto").cloned());
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let auto = auto.unwrap_or_else(|| panic!("[{l}] no automatic version"));
        let r = get(
            addr,
            viewer,
            &path(&doc, &format!("/{}", auto["id"].as_str().expect("id"))),
        )
        .await;
        assert_eq!(r.json()["content"]["t"], "Hello!", "[{l}]");

        // Someone who may not open the document learns nothing.
        let stranger = common::accounts::register(addr, "stranger").await;
        let r = get(addr, &stranger.access, &path(&doc, "")).await;
        assert_eq!(r.status, 404, "[{l}] {}", r.text());
        server.stop().await;
    })
    .await;
}
