//! A server stopped with deliveries done, deliveries waiting to retry and
//! events not yet dispatched; a new server on the same database finishes
//! the work: every event reaches every endpoint exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;

use crate::receiver::{Received, Receiver};
use crate::{Node, SOON, Shop, emit, log_until, settled};

/// How many 2xx-answered requests each event got.
fn accepted_per_event(got: &[Received]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for r in got.iter().filter(|r| (200..300).contains(&r.answered)) {
        *n.entry(r.event_id()).or_default() += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_sent_twice_across_a_restart() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        let store = db.store().await;
        let rx = Receiver::start().await;
        // Both servers share a data directory (the token signing key).
        let dir =
            std::env::temp_dir().join(format!("goonline-hooks-{}", uuid::Uuid::new_v4().simple()));
        // The first server retries only after 3 s (± 20%): it stops first.
        let first = Node::start(&db, |a| {
            a.data_dir = dir.clone();
            a.docs.webhook_retry_base_ms = 3_000;
        })
        .await;
        let shop = Shop::open(first.addr).await;
        rx.script("/b", &[503, 503]);
        shop.endpoint(first.addr, &rx.url("/a"), &["*"]).await;
        let b = shop.endpoint(first.addr, &rx.url("/b"), &["*"]).await;
        let e1 = emit(&store, Some(&shop.business), "doc.created", json!({})).await;
        let e2 = emit(&store, Some(&shop.business), "doc.changed", json!({})).await;
        // `a` has both; `b` failed both once and waits to retry.
        rx.until("/a", SOON, |r| r.len() == 2).await;
        rx.until("/b", SOON, |r| r.len() == 2).await;
        first.stop().await;
        // Its webhook tasks notice the stop within a second.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        // Written while no server runs: not dispatched yet.
        let e3 = emit(&store, Some(&shop.business), "doc.deleted", json!({})).await;

        let second = Node::start(&db, |a| a.data_dir = dir.clone()).await;
        let addr = second.addr;
        let ids = [&e1.id, &e2.id, &e3.id];
        let want: BTreeMap<String, usize> = ids.iter().map(|id| (id.to_string(), 1)).collect();
        rx.until("/a", SOON, |r| accepted_per_event(r).len() == 3)
            .await;
        rx.until("/b", SOON, |r| accepted_per_event(r).len() == 3)
            .await;
        settled(&store).await;
        // Anything repeated would have had time to arrive.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let a = rx.received("/a");
        assert_eq!(
            a.len(),
            3,
            "[{label}] `a` got each event once, nothing again"
        );
        assert_eq!(accepted_per_event(&a), want, "[{label}]");
        let b_got = rx.received("/b");
        assert_eq!(
            accepted_per_event(&b_got),
            want,
            "[{label}] `b` accepted each once"
        );
        assert_eq!(
            b_got.len(),
            5,
            "[{label}] two refused attempts, three accepted"
        );

        // `b`'s log: e1 and e2 failed on the first server, succeeded on the
        // second; e3 succeeded at once.
        let log = log_until(&shop, addr, &b, |l| l.len() == 3).await;
        for d in &log {
            assert_eq!(d["status"], json!("succeeded"), "[{label}] {d}");
            let n = d["attempts"].as_array().expect("attempts").len();
            let want = if d["event_id"] == json!(e3.id) { 1 } else { 2 };
            assert_eq!(n, want, "[{label}] {d}");
        }
        second.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
