//! Clients of each dialect, and of all three together, converge on one document
//! through a real server on real sockets, on SQLite and Postgres.

mod common;

use std::time::Duration;

use common::{Dialect, Peer, TestServer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};

/// Lets both peers process what arrives until their states are equal.
async fn converge(a: &mut Peer, b: &mut Peer, doc: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while a.state(doc) != b.state(doc) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no convergence: {:?} vs {:?}",
            a.state(doc),
            b.state(doc)
        );
        a.until(Duration::from_millis(50), |_| false).await;
        b.until(Duration::from_millis(50), |_| false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_clients_converge_and_get_durable_acks() {
    each_backend(|db: TestDb| async move {
        let server = TestServer::start(db, |_| {}).await;
        let mut a = Peer::native(&server).await;
        let mut b = Peer::native(&server).await;
        a.open("n1").await;
        b.open("n1").await;
        assert!(
            a.until(WAIT, |p| p.synced.get("n1") == Some(&true)).await,
            "a synced"
        );
        assert!(
            b.until(WAIT, |p| p.synced.get("n1") == Some(&true)).await,
            "b synced"
        );
        let id1 = a.append_text("n1", "hello ").await;
        let id2 = b.set_key("n1", "price", "1500 XAF").await;
        let id3 = a.append_text("n1", "world").await;
        assert!(
            a.until(WAIT, |p| p.acks.contains(&id1) && p.acks.contains(&id3))
                .await,
            "a acked"
        );
        assert!(b.until(WAIT, |p| p.acks.contains(&id2)).await, "b acked");
        converge(&mut a, &mut b, "n1").await;
        converge(&mut b, &mut a, "n1").await;
        assert_eq!(a.text("n1"), "hello world");
        assert!(a.map_json("n1").contains("1500 XAF"));
        assert!(
            a.errors.is_empty() && b.errors.is_empty(),
            "{:?} {:?}",
            a.errors,
            b.errors
        );

        // A latecomer gets everything by state vector.
        let mut c = Peer::native(&server).await;
        c.open("n1").await;
        converge(&mut a, &mut c, "n1").await;
        assert!(server.stop().await, "graceful stop flushed everything");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn y_websocket_clients_converge_and_see_awareness() {
    let server = TestServer::start(TestDb::sqlite(), |_| {}).await;
    let mut a = Peer::yws(server.addr, "shop/inventory").await;
    let mut b = Peer::yws(server.addr, "shop/inventory").await;
    assert!(
        a.until(WAIT, |p| p.synced.get("shop/inventory") == Some(&true))
            .await
    );
    assert!(
        b.until(WAIT, |p| p.synced.get("shop/inventory") == Some(&true))
            .await
    );
    a.append_text("shop/inventory", "soap x12").await;
    b.set_key("shop/inventory", "rice", "40").await;
    converge(&mut a, &mut b, "shop/inventory").await;
    converge(&mut b, &mut a, "shop/inventory").await;
    a.set_awareness("shop/inventory", 1, r#"{"name":"Awa"}"#)
        .await;
    let id = a.client_id;
    assert!(
        b.until(WAIT, |p| p
            .awareness
            .get("shop/inventory")
            .and_then(|s| s.get(&id))
            .is_some())
            .await,
        "b sees a's awareness"
    );
    assert!(
        a.until(WAIT, |p| p
            .awareness
            .get("shop/inventory")
            .and_then(|s| s.get(&id))
            .is_some())
            .await,
        "echoed to a"
    );
    // When a leaves, b sees its awareness removed.
    drop(a);
    assert!(
        b.until(WAIT, |p| p
            .awareness
            .get("shop/inventory")
            .is_some_and(|s| !s.contains_key(&id)))
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hocuspocus_clients_multiplex_docs_on_one_socket() {
    let server = TestServer::start(TestDb::sqlite(), |_| {}).await;
    let mut a = Peer::hocus(server.addr).await;
    let mut b = Peer::hocus(server.addr).await;
    for doc in ["h1", "h2"] {
        a.open(doc).await;
        b.open(doc).await;
    }
    for doc in ["h1", "h2"] {
        assert!(a.until(WAIT, |p| p.synced.get(doc) == Some(&true)).await);
        assert!(b.until(WAIT, |p| p.synced.get(doc) == Some(&true)).await);
    }
    let before = a.sync_status.len();
    a.append_text("h1", "one").await;
    b.append_text("h2", "two").await;
    a.set_key("h2", "k", "v").await;
    converge(&mut a, &mut b, "h1").await;
    converge(&mut a, &mut b, "h2").await;
    converge(&mut b, &mut a, "h2").await;
    assert!(
        a.until(WAIT, |p| p.sync_status.len() >= before + 2).await,
        "SyncStatus for each update"
    );
    assert!(a.sync_status.iter().all(|ok| *ok));
    assert_eq!(b.text("h1"), "one");
    assert_eq!(a.text("h2"), "two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_three_dialects_edit_one_document_together() {
    each_backend(|db: TestDb| async move {
        let server = TestServer::start(db, |_| {}).await;
        let doc = "shop-1/ws/main/plan";
        let mut n = Peer::native(&server).await;
        n.open(doc).await;
        let mut y = Peer::yws(server.addr, doc).await;
        let mut h = Peer::hocus(server.addr).await;
        h.open(doc).await;
        for p in [&mut n, &mut y, &mut h] {
            assert!(
                p.until(WAIT, |p| p.synced.get(doc) == Some(&true)).await,
                "{:?} synced",
                p.dialect
            );
        }
        n.append_text(doc, "native;").await;
        y.append_text(doc, "yws;").await;
        h.append_text(doc, "hocus;").await;
        y.set_key(doc, "owner", "Kofi").await;
        h.set_key(doc, "status", "open").await;
        // Everyone converges to the same state (same state vector, text and map).
        for _ in 0..2 {
            converge(&mut n, &mut y, doc).await;
            converge(&mut y, &mut h, doc).await;
            converge(&mut h, &mut n, doc).await;
        }
        let text = n.text(doc);
        for part in ["native;", "yws;", "hocus;"] {
            assert!(text.contains(part), "{text:?} has {part}");
        }
        assert!(n.map_json(doc).contains("Kofi") && n.map_json(doc).contains("open"));

        // Awareness crosses dialects too.
        y.set_awareness(doc, 1, r#"{"cursor":3}"#).await;
        let yid = y.client_id;
        assert!(
            n.until(WAIT, |p| p
                .awareness
                .get(doc)
                .is_some_and(|s| s.contains_key(&yid)))
                .await,
            "native sees yws"
        );
        assert!(
            h.until(WAIT, |p| p
                .awareness
                .get(doc)
                .is_some_and(|s| s.contains_key(&yid)))
                .await,
            "hocus sees yws"
        );
        assert_eq!(n.dialect, Dialect::Native);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let server = TestServer::start(TestDb::sqlite(), |_| {}).await;
    assert_eq!(server.http_get("/healthz").await.0, 200);
    assert_eq!(server.http_get("/readyz").await.0, 200);
    let mut a = Peer::native(&server).await;
    a.open("m").await;
    let id = a.append_text("m", "x").await;
    assert!(a.until(WAIT, |p| p.acks.contains(&id)).await);
    let (status, body) = server.http_get("/metrics").await;
    assert_eq!(status, 200);
    let updates_in: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("goonline_updates_in_total "))
        .and_then(|v| v.parse().ok())
        .expect("updates_in metric");
    assert!(updates_in >= 1, "the update was counted");
    for name in [
        "goonline_connections 1",
        "goonline_rooms_loaded 1",
        "goonline_store_commit_seconds_count",
        "goonline_slow_consumer_closes_total 0",
        "goonline_bytes_out_total",
    ] {
        assert!(body.contains(name), "metrics lack {name}:\n{body}");
    }
}
