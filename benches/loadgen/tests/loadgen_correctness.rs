//! The load generator's own correctness, against a real GoOnline server on each
//! backend: a short fan-out counts every expected delivery and no more, readers
//! that keep real Yrs documents converge with a client that joins afterwards, and
//! merged multi-writer traffic is attributed to the right writers. CI runs these,
//! not the full comparison.

use std::net::SocketAddr;
use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use goonline_loadgen::swarm::{DocPlan, SwarmPlan, run};
use goonline_loadgen::wire::Dialect;
use goonline_server::config::ServeArgs;

/// A server in this process on `db`; stopped when the returned sender drops.
async fn server(db: &TestDb) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut args = ServeArgs::defaults();
    args.listen = "127.0.0.1:0".parse().expect("addr");
    args.database_url = Some(db.url.clone());
    // Benchmark documents have plain names and no tokens.
    args.security.allow_anonymous_docs = true;
    args.data_dir =
        std::env::temp_dir().join(format!("goonline-loadgen-test-{}", std::process::id()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, serve) = goonline_server::start(&args, async move {
        let _ = stopped.await;
    })
    .await
    .expect("server starts");
    tokio::spawn(serve);
    (addr, stop)
}

fn plan(dialect: Dialect, url: String, doc: &str, writers: Vec<f64>, readers: usize) -> SwarmPlan {
    SwarmPlan {
        dialect,
        url,
        reader_urls: Vec::new(),
        docs: vec![DocPlan {
            name: doc.into(),
            writer_rates: writers,
            readers,
        }],
        duration: Duration::from_millis(1500),
        presence: None,
        verify: true,
        drain: Duration::from_secs(10),
        settle: Duration::from_millis(100),
        server: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_accounts_for_every_delivery_and_readers_converge() {
    each_backend(|db| async move {
        let (addr, _stop) = server(&db).await;
        for (dialect, url) in [
            (Dialect::Yws, format!("ws://{addr}/y")),
            (Dialect::Hocus, format!("ws://{addr}/hocuspocus")),
        ] {
            let doc = format!("fanout-{dialect:?}");
            let out = run(plan(dialect, url, &doc, vec![200.0], 20))
                .await
                .expect("run");
            // 200 edits/s for 1.5 s = 300 edits, to each of 20 readers.
            assert_eq!(out.expected, 300 * 20, "[{}] {dialect:?}", db.label);
            assert_eq!(
                out.delivered, out.expected,
                "[{}] {dialect:?}: {:?}",
                db.label, out.errors
            );
            assert_eq!(out.duplicates, 0, "[{}] {dialect:?}", db.label);
            assert_eq!(
                out.latency.count(),
                out.expected,
                "[{}] {dialect:?}",
                db.label
            );
            assert!(
                out.errors.is_empty(),
                "[{}] {dialect:?}: {:?}",
                db.label,
                out.errors
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_are_told_apart_and_converge() {
    each_backend(|db| async move {
        let (addr, _stop) = server(&db).await;
        let url = format!("ws://{addr}/y");
        let out = run(plan(Dialect::Yws, url, "writers", vec![40.0; 5], 8))
            .await
            .expect("run");
        // 5 writers × 60 edits, to each of 8 readers.
        assert_eq!(out.expected, 5 * 60 * 8, "[{}]", db.label);
        assert_eq!(
            out.delivered, out.expected,
            "[{}]: {:?}",
            db.label, out.errors
        );
        assert!(out.errors.is_empty(), "[{}]: {:?}", db.label, out.errors);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_mid_run_shows_as_lost_edits() {
    // The server shuts down half-way through: the run must report the edits that
    // never arrived and the closed sockets, not pass.
    let db = TestDb::sqlite();
    let (addr, stop) = server(&db).await;
    let mut p = plan(
        Dialect::Yws,
        format!("ws://{addr}/y"),
        "goes-away",
        vec![100.0],
        3,
    );
    p.verify = false;
    p.drain = Duration::from_millis(500);
    let run = tokio::spawn(run(p));
    tokio::time::sleep(Duration::from_millis(600)).await;
    drop(stop);
    match run.await.expect("task") {
        // On a loaded machine the server may go before every client joined: a
        // setup error, which is also a failed run.
        Err(e) => eprintln!("the run failed at setup, as it should: {e}"),
        Ok(out) => {
            assert_eq!(out.expected, 150 * 3);
            assert!(
                out.delivered < out.expected,
                "{} of {} delivered",
                out.delivered,
                out.expected
            );
            assert!(!out.errors.is_empty(), "closed sockets must be reported");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_writers_get_every_ack() {
    each_backend(|db| async move {
        let (addr, _stop) = server(&db).await;
        // 4 writers × 500 updates, well inside 3 s: every one must be acked, and the
        // run must say the writers ran out (the figure would be bounded by them).
        let out = goonline_loadgen::durable::run(
            &format!("ws://{addr}/v1/ws"),
            "durable",
            4,
            32,
            500,
            Duration::from_secs(3),
            None,
        )
        .await;
        assert_eq!(out.acked, 2_000, "[{}]: {:?}", db.label, out.errors);
        assert_eq!(out.latency.count(), 2_000, "[{}]", db.label);
        assert_eq!(out.errors.len(), 1, "[{}]: {:?}", db.label, out.errors);
        assert!(
            out.errors[0].contains("ran out"),
            "[{}]: {:?}",
            db.label,
            out.errors
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rooms_keep_their_edits_apart() {
    // Like the `rooms` scenario, small: each reader expects only its own room's
    // writer, so an edit leaking across rooms would show as foreign, not delivered.
    let db = TestDb::sqlite();
    let (addr, _stop) = server(&db).await;
    let mut p = plan(
        Dialect::Yws,
        format!("ws://{addr}/y"),
        "room-0",
        vec![20.0],
        3,
    );
    for d in 1..4 {
        p.docs.push(DocPlan {
            name: format!("room-{d}"),
            writer_rates: vec![20.0],
            readers: 3,
        });
    }
    let out = run(p).await.expect("run");
    // 4 rooms × 30 edits × 3 readers.
    assert_eq!(out.expected, 4 * 30 * 3);
    assert_eq!(out.delivered, out.expected, "{:?}", out.errors);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_traffic_is_counted_beside_every_edit() {
    let db = TestDb::sqlite();
    let (addr, _stop) = server(&db).await;
    let mut p = plan(
        Dialect::Yws,
        format!("ws://{addr}/y"),
        "presence",
        vec![20.0],
        10,
    );
    p.verify = false;
    p.presence = Some(goonline_loadgen::presence::Presence {
        renew: Duration::from_secs(15),
        movers_pct: 50,
    });
    let out = run(p).await.expect("run");
    assert_eq!(out.delivered, out.expected, "{:?}", out.errors);
    // Every client (numbers 0–49 are movers at 50%) moves a cursor each second,
    // relayed to all 11 clients.
    assert!(out.awareness_frames > 0, "no awareness was relayed");
    assert!(out.awareness_entries >= out.awareness_frames);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_held_and_measured() {
    // The server runs in this process, so the RSS measured is this process's.
    let db = TestDb::sqlite();
    let (addr, _stop) = server(&db).await;
    let out = goonline_loadgen::idle::run(
        Dialect::Yws,
        &format!("ws://{addr}/y"),
        "idle",
        50,
        Duration::from_millis(200),
        std::process::id(),
    )
    .await
    .expect("idle run");
    assert_eq!(out.connections, 50);
    assert_eq!(out.dropped, 0);
    assert!(out.rss_before_kb > 0 && out.rss_after_kb > 0);
}
