//! Guest access over real sockets and real HTTP, on SQLite and Postgres: a
//! partner invited to one workspace with write access edits its document over
//! the native socket (and y-websocket) while the owner watches; finds it over
//! REST; cannot open anything else of the business; and when the owner
//! removes them, their open document is closed at once (a native `access`
//! frame with mode `none`, y-websocket closed with 4403).

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::accounts::{Shop, register, server};
use common::http;
use common::{Peer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::{AccessMode, ServerFrame};
use serde_json::json;

/// A document name as one URL path segment.
fn segment(doc: &str) -> String {
    doc.replace('/', "%2F")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_edits_one_workspace_only_and_loses_it_live_when_removed() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = server(db).await;
        let addr = server.addr;
        let shop = Shop::open(addr).await;
        let b = shop.business.clone();
        let partner = register(addr, "partner").await;

        // The owner sets up two workspaces and invites the partner to one.
        let campaign = shop
            .owner_call(addr, "workspace.create", json!({ "business_id": b, "name": "Campaign" }))
            .await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let stock = shop
            .owner_call(addr, "workspace.create", json!({ "business_id": b, "name": "Stock" }))
            .await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let doc_in = |ws: &str, title: &str| {
            json!({ "business_id": b, "workspace_id": ws, "title": title, "kind": "text" })
        };
        let plan = shop.owner_call(addr, "doc.create", doc_in(&campaign, "Plan")).await["name"]
            .as_str()
            .expect("name")
            .to_string();
        let count = shop.owner_call(addr, "doc.create", doc_in(&stock, "Count")).await["name"]
            .as_str()
            .expect("name")
            .to_string();
        let inv = shop
            .owner_call(
                addr,
                "guest.invite",
                json!({ "business_id": b, "workspace_id": campaign, "email": partner.email, "access": "write" }),
            )
            .await;
        let mut p = Peer::native_signed_in(addr, Some(&partner.access)).await;
        let joined = p
            .call("guest.accept", json!({ "token": inv["token"] }), None)
            .await
            .unwrap_or_else(|e| panic!("[{l}] accept: {e:?}"));
        assert_eq!(joined["guest_access"], json!("write"), "[{l}]");

        // Over REST the partner finds the document in their workspace.
        let path = format!("/api/businesses/{b}/workspaces/{campaign}/docs");
        let auth = bearer(&partner.access);
        let r = http::get(addr, &path, &[("Authorization", &auth)]).await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        assert_eq!(r.json()["docs"][0]["name"], json!(plan), "[{l}]");
        let r = http::get(addr, &format!("/api/businesses/{b}/workspaces/{stock}/docs"), &[("Authorization", &auth)]).await;
        assert_eq!((r.status, r.error_code()), (404, "not_found".to_string()), "[{l}]");
        let r = http::get(addr, &format!("/api/docs/{}/info", segment(&plan)), &[("Authorization", &auth)]).await;
        assert_eq!(r.json()["title"], json!("Plan"), "[{l}] {}", r.text());

        // The partner edits over the native socket and y-websocket; the owner
        // sees every edit.
        let mut owner = Peer::native_signed_in(addr, Some(&shop.owner.access)).await;
        owner.open(&plan).await;
        assert!(owner.until(WAIT, |p| p.synced.get(&plan) == Some(&true)).await, "[{l}]");
        p.open(&plan).await;
        assert!(p.until(WAIT, |p| p.synced.get(&plan) == Some(&true)).await, "[{l}] guest opens");
        p.append_text(&plan, "launch in May").await;
        assert!(owner.until(WAIT, |o| o.text(&plan) == "launch in May").await, "[{l}] owner sees the edit");
        let mut y = Peer::yws_signed_in(addr, &plan, Some(&partner.access)).await;
        assert!(y.until(WAIT, |y| y.text(&plan) == "launch in May").await, "[{l}] y-websocket guest reads");
        y.append_text(&plan, "!").await;
        assert!(owner.until(WAIT, |o| o.text(&plan) == "launch in May!").await, "[{l}] {}", owner.text(&plan));
        assert!(p.until(WAIT, |p| p.text(&plan) == "launch in May!").await, "[{l}]");

        // Nothing else of the business opens for them.
        for doc in [count.clone(), shop.doc("inventory")] {
            p.open(&doc).await;
            let refused = |p: &Peer| {
                p.errors.iter().any(|e| {
                    matches!(e, ServerFrame::Error { code, doc: Some(d), .. }
                        if code.as_str() == "forbidden" && *d == doc)
                })
            };
            assert!(p.until(WAIT, refused).await, "[{l}] {doc} refused: {:?}", p.errors);
        }
        let mut other = Peer::yws_signed_in(addr, &count, Some(&partner.access)).await;
        assert_eq!(other.closed_with(WAIT).await, Some(4403), "[{l}] y-websocket on another workspace");
        let r = p.call("member.list", json!({ "business_id": b }), None).await;
        assert_eq!(r.err().map(|e| e.code), Some("not_found".to_string()), "[{l}]");

        // The owner removes the partner (over REST): both sockets lose the
        // document at once.
        let t0 = Instant::now();
        let owner_auth = bearer(&shop.owner.access);
        let r = http::request(
            addr,
            "DELETE",
            &format!("/api/businesses/{b}/workspaces/{campaign}/guests/{}", partner.id),
            &[("Authorization", &owner_auth)],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let revoked = |p: &Peer| {
            p.frames.iter().any(|f| {
                matches!(f, ServerFrame::Access { doc, mode: AccessMode::None, .. } if *doc == plan)
            })
        };
        assert!(p.until(Duration::from_secs(1), revoked).await, "[{l}] native access none: {:?}", p.frames);
        assert_eq!(y.closed_with(Duration::from_secs(1)).await, Some(4403), "[{l}] y-websocket closed");
        assert!(t0.elapsed() < Duration::from_secs(2), "[{l}] took {:?}", t0.elapsed());

        // Their edits are refused now, and reopening is refused too.
        p.open(&plan).await;
        let refused_again = |p: &Peer| {
            p.errors.iter().filter(|e| {
                matches!(e, ServerFrame::Error { code, doc: Some(d), .. }
                    if code.as_str() == "forbidden" && *d == plan)
            }).count() >= 1
        };
        assert!(p.until(WAIT, refused_again).await, "[{l}] reopen refused: {:?}", p.errors);
        let r = http::get(addr, &path, &[("Authorization", &auth)]).await;
        assert_eq!(r.status, 404, "[{l}] {}", r.text());
        let _ = owner.until(Duration::from_millis(300), |_| false).await;
        assert_eq!(owner.text(&plan), "launch in May!", "[{l}] nothing else arrived");
        let events = list_events(&server, "workspace.guest_removed").await;
        assert_eq!(events, 1, "[{l}]");
    })
    .await;
}

/// How many domain events of `kind` the server's database holds.
async fn list_events(server: &common::TestServer, kind: &str) -> i64 {
    let store = server.db.store().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM domain_events WHERE type = $1")
        .bind(kind)
        .fetch_one(store.pool())
        .await
        .expect("count");
    n
}
