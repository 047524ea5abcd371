//! The REST door to every document, over real HTTP and real sockets, on
//! SQLite and Postgres: what REST reads equals what a socket client holds, an
//! update applied over REST reaches socket clients, refused or malformed
//! updates change nothing, and a document at its size limit refuses the next
//! update with the documented error on both doors and stays intact.

#[path = "../common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::accounts::{Shop, register, server};
use common::http::{Response, get, json};
use common::{Peer, TestServer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::ServerFrame;
use serde_json::{Value, json};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Array, Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

/// `doc` as one URL path segment.
fn seg(doc: &str) -> String {
    doc.replace('/', "%2F")
}

async fn rest_get(addr: SocketAddr, token: &str, path: &str) -> Response {
    get(addr, path, &[("Authorization", &format!("Bearer {token}"))]).await
}

async fn rest_apply(addr: SocketAddr, token: &str, doc: &str, body: Value) -> Response {
    let auth = format!("Bearer {token}");
    json(
        addr,
        "POST",
        &format!("/api/docs/{}/updates", seg(doc)),
        &[("Authorization", &auth)],
        &body,
    )
    .await
}

/// The document as REST returns it in `format`.
async fn content(addr: SocketAddr, token: &str, doc: &str, format: &str) -> Value {
    let r = rest_get(
        addr,
        token,
        &format!("/api/docs/{}?format={format}", seg(doc)),
    )
    .await;
    assert_eq!(r.status, 200, "doc.get {format}: {}", r.text());
    r.json()
}

/// A client doc built from the update REST returned.
fn doc_of(update_b64: &str) -> Doc {
    let doc = Doc::new();
    let bytes = STANDARD.decode(update_b64).expect("base64");
    doc.transact_mut()
        .apply_update(Update::decode_v1(&bytes).expect("v1 update"))
        .expect("applies");
    doc
}

fn text_of(doc: &Doc) -> String {
    doc.get_or_insert_text("t").get_string(&doc.transact())
}

/// An update whose one array item is `depth` nested arrays: decoded
/// recursively it would overflow the stack.
fn nested(depth: usize) -> Vec<u8> {
    let doc = Doc::with_client_id(1);
    let a = doc.get_or_insert_array("a");
    let mut txn = doc.transact_mut();
    a.push_back(&mut txn, yrs::Any::Null);
    let mut u = txn.encode_update_v1();
    let pos = u.iter().rposition(|b| *b == 126).expect("the null");
    let mut deep = [117u8, 1].repeat(depth);
    deep.push(126);
    u.splice(pos..pos + 1, deep);
    u
}

/// Appends `s` to text `t` of `doc`; returns the update.
fn append(doc: &Doc, s: &str) -> Vec<u8> {
    let t = doc.get_or_insert_text("t");
    let mut txn = doc.transact_mut();
    let len = t.len(&txn);
    t.insert(&mut txn, len, s);
    txn.encode_update_v1()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_rest_reads_and_applies_is_what_socket_clients_see() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let s = server(db).await;
        let shop = Shop::open(s.addr).await;
        let doc = shop.doc("prices");
        let mut editor = Peer::native_signed_in(s.addr, Some(&shop.editor.access)).await;
        editor.open(&doc).await;
        editor.append_text(&doc, "Rice 4500").await;
        editor.set_key(&doc, "currency", "XAF").await;
        assert!(
            editor.until(WAIT, |p| p.acks.len() == 2).await,
            "[{l}] acks"
        );

        // JSON of the top-level types, as the socket client holds them.
        let j = content(s.addr, &shop.viewer.access, &doc, "json").await;
        assert_eq!(j["json"]["t"], json!(editor.text(&doc)), "[{l}]");
        assert_eq!(j["json"]["m"], json!({ "currency": "XAF" }), "[{l}]");
        assert_eq!(j["seq"], json!(2), "[{l}]");

        // v1 and v2 updates rebuild the same document.
        let v1 = content(s.addr, &shop.viewer.access, &doc, "update").await;
        let rebuilt = doc_of(v1["update"].as_str().expect("update"));
        assert_eq!(text_of(&rebuilt), "Rice 4500", "[{l}]");
        let v2 = content(s.addr, &shop.viewer.access, &doc, "update_v2").await;
        let bytes = STANDARD
            .decode(v2["update"].as_str().expect("v2"))
            .expect("b64");
        let from_v2 = Doc::new();
        from_v2
            .transact_mut()
            .apply_update(Update::decode_v2(&bytes).expect("v2 decodes"))
            .expect("applies");
        assert_eq!(text_of(&from_v2), "Rice 4500", "[{l}]");

        // The state vector equals the socket client's.
        let r = rest_get(
            s.addr,
            &shop.viewer.access,
            &format!("/api/docs/{}/state-vector", seg(&doc)),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let sv = STANDARD
            .decode(r.json()["state_vector"].as_str().expect("sv"))
            .expect("b64");
        assert_eq!(
            StateVector::decode_v1(&sv).expect("sv decodes"),
            editor.docs[&doc].transact().state_vector(),
            "[{l}]"
        );
        // Only what a state vector lacks, when one is given.
        let sv_b64 = STANDARD.encode(rebuilt.transact().state_vector().encode_v1());
        let r = rest_get(
            s.addr,
            &shop.viewer.access,
            &format!(
                "/api/docs/{}?state_vector={}",
                seg(&doc),
                sv_b64
                    .replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
            ),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let missing = STANDARD
            .decode(r.json()["update"].as_str().expect("u"))
            .expect("b64");
        assert!(
            missing.len()
                < STANDARD
                    .decode(v1["update"].as_str().unwrap())
                    .unwrap()
                    .len(),
            "[{l}] a diff, not the whole doc"
        );

        // Updates applied over REST reach the socket client
        // and answers once durable, with the document's sequence number.
        let r = rest_apply(
            s.addr,
            &shop.owner.access,
            &doc,
            json!({ "doc": doc, "update": STANDARD.encode(append(&rebuilt, ", oil 1200")) }),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        assert_eq!(r.json()["seq"], json!(3), "[{l}]");
        let r = rest_apply(
            s.addr,
            &shop.owner.access,
            &doc,
            json!({ "doc": doc, "update": STANDARD.encode(append(&rebuilt, ", salt 300")) }),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        assert!(
            editor
                .until(WAIT, |p| p.text(&doc) == "Rice 4500, oil 1200, salt 300")
                .await,
            "[{l}] socket client sees REST writes: {:?}",
            editor.text(&doc)
        );
        // The same over the socket call door.
        let r = editor
            .call("doc.get", json!({ "doc": doc, "format": "json" }), None)
            .await
            .expect("doc.get over the socket");
        assert_eq!(
            r["json"]["t"],
            json!("Rice 4500, oil 1200, salt 300"),
            "[{l}]"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_malformed_updates_change_nothing() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let s = server(db).await;
        let shop = Shop::open(s.addr).await;
        let stranger = register(s.addr, "stranger").await;
        let doc = shop.doc("plan");
        let owner = &shop.owner.access;
        let base = Doc::new();
        let r = rest_apply(
            s.addr,
            owner,
            &doc,
            json!({ "doc": doc, "update": STANDARD.encode(append(&base, "kept")) }),
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let before = content(s.addr, owner, &doc, "update").await["update"].clone();

        let other = append(&base, " lost");
        let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
            (
                "malformed v1",
                owner,
                json!({ "doc": doc, "update": STANDARD.encode([0xffu8, 0xff, 0xff, 0x01]) }),
                400,
                "invalid_argument",
            ),
            (
                "values nested too deep (would overflow the stack)",
                owner,
                json!({ "doc": doc, "update": STANDARD.encode(nested(100_000)) }),
                400,
                "invalid_argument",
            ),
            (
                "not base64",
                owner,
                json!({ "doc": doc, "update": "%%%" }),
                400,
                "invalid_argument",
            ),
            (
                "an unknown field",
                owner,
                json!({ "doc": doc, "update": STANDARD.encode(&other), "encoding": "v2" }),
                400,
                "invalid_argument",
            ),
            (
                "a viewer",
                &shop.viewer.access,
                json!({ "doc": doc, "update": STANDARD.encode(&other) }),
                403,
                "forbidden",
            ),
            (
                "a stranger",
                &stranger.access,
                json!({ "doc": doc, "update": STANDARD.encode(&other) }),
                404,
                "not_found",
            ),
        ];
        for (what, token, body, status, code) in cases {
            let r = rest_apply(s.addr, token, &doc, body).await;
            assert_eq!(
                (r.status, r.error_code()),
                (status, code.to_string()),
                "[{l}] {what}: {}",
                r.text()
            );
        }
        let r = json(
            s.addr,
            "POST",
            &format!("/api/docs/{}/updates", seg(&doc)),
            &[],
            &json!({ "doc": doc, "update": STANDARD.encode(&other) }),
        )
        .await;
        assert_eq!(r.status, 401, "[{l}] no token");
        // A stranger cannot read it either, and learns nothing about it.
        let r = rest_get(
            s.addr,
            &stranger.access,
            &format!("/api/docs/{}", seg(&doc)),
        )
        .await;
        assert_eq!(
            (r.status, r.error_code()),
            (404, "not_found".to_string()),
            "[{l}]"
        );
        // The socket refuses the deep update the same way, and carries on.
        let mut p = Peer::native_signed_in(s.addr, Some(owner)).await;
        p.open(&doc).await;
        p.send_update(&doc, nested(100_000)).await;
        assert!(
            p.until(WAIT, |p| !p.errors.is_empty()).await,
            "[{l}] an error frame"
        );
        match &p.errors[0] {
            ServerFrame::Error { code, .. } => assert_eq!(code.as_str(), "invalid_update", "[{l}]"),
            other => panic!("[{l}] {other:?}"),
        }
        let after = content(s.addr, owner, &doc, "update").await["update"].clone();
        assert_eq!(before, after, "[{l}] the document is untouched");
        assert_eq!(text_of(&doc_of(after.as_str().unwrap())), "kept", "[{l}]");
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doc_at_its_size_limit_refuses_the_next_update_and_stays_intact() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let s = TestServer::start(db, |a| {
            a.security.allow_anonymous_docs = false;
            a.max_doc_bytes = 2048;
        })
        .await;
        let shop = Shop::open(s.addr).await;
        let doc = shop.doc("stock");
        let mut p = Peer::native_signed_in(s.addr, Some(&shop.owner.access)).await;
        p.open(&doc).await;
        // Fill it to the limit over the socket: 200-byte lines until refused.
        let line = "x".repeat(200);
        let mut accepted = 0;
        for _ in 0..20 {
            let errors = p.errors.len();
            p.append_text(&doc, &line).await;
            let done = p
                .until(WAIT, |p| p.errors.len() > errors || p.acks.len() > accepted)
                .await;
            assert!(done, "[{l}] ack or error");
            if p.errors.len() > errors {
                break;
            }
            accepted += 1;
        }
        assert!(
            (5..20).contains(&accepted),
            "[{l}] {accepted} lines accepted"
        );
        match p.errors.last() {
            Some(ServerFrame::Error { code, .. }) => {
                assert_eq!(code.as_str(), "doc_too_large", "[{l}]")
            }
            other => panic!("[{l}] expected doc_too_large, got {other:?}"),
        }
        // REST refuses the next update too, with its documented error.
        let stored = content(s.addr, &shop.owner.access, &doc, "json").await;
        assert_eq!(
            stored["json"]["t"].as_str().map(str::len),
            Some(200 * accepted),
            "[{l}] exactly the accepted lines"
        );
        let client = doc_of(
            content(s.addr, &shop.owner.access, &doc, "update").await["update"]
                .as_str()
                .unwrap(),
        );
        let r = rest_apply(
            s.addr,
            &shop.owner.access,
            &doc,
            json!({ "doc": doc, "update": STANDARD.encode(append(&client, &line)) }),
        )
        .await;
        assert_eq!(
            (r.status, r.error_code()),
            (413, "too_large".to_string()),
            "[{l}] {}",
            r.text()
        );
        // A client opening it now gets exactly what was accepted.
        let mut fresh = Peer::native_signed_in(s.addr, Some(&shop.editor.access)).await;
        fresh.open(&doc).await;
        assert!(
            fresh
                .until(WAIT, |f| f.text(&doc).len() == 200 * accepted)
                .await,
            "[{l}] a new client sees the accepted lines"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            fresh.text(&doc).len(),
            200 * accepted,
            "[{l}] and nothing more"
        );
        s.stop().await;
    })
    .await;
}
