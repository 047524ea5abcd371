//! The engine on real stores (SQLite always, Postgres when configured): what is
//! acknowledged is stored, compaction, single-flight and failed loads, parked
//! updates, idle eviction.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use goonline_engine::store::Store;
use goonline_engine::testing::{FaultyStore, TestDb, each_backend};
use goonline_engine::{EngineConfig, EngineError};
use goonline_protocol::sync::SyncMessage;
use support::{Client, WAIT, engine, futures_join_all, quick_config, sv_of_state, text_of_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_updates_survive_a_new_engine_and_edits_converge() {
    each_backend(|db: TestDb| async move {
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        let e1 = engine(store.clone(), quick_config());
        let mut a = Client::connect(&e1);
        let mut b = Client::connect(&e1);
        a.open("notes").await;
        b.open("notes").await;
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(a.type_text("notes", &format!("a{i} ")));
        }
        assert!(
            a.until(WAIT, |c| c.acks.len() == 50).await,
            "[{}] all 50 acks",
            db.label
        );
        assert_eq!(
            a.acks,
            ids.iter().map(|i| Some(*i)).collect::<Vec<_>>(),
            "acks in order"
        );
        assert!(
            b.until(WAIT, |c| c.text() == a.text()).await,
            "[{}] b converges",
            db.label
        );
        b.type_text("notes", "from-b");
        assert!(a.until(WAIT, |c| c.text().ends_with("from-b")).await);
        assert!(b.until(WAIT, |c| c.acks.len() == 1).await);
        let expected = a.text();

        // A fresh engine on the same database (a restart) serves the same content.
        let e2 = engine(Arc::new(db.store().await), quick_config());
        let mut c = Client::connect(&e2);
        c.open("notes").await;
        assert_eq!(c.text(), expected, "[{}] content after restart", db.label);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_log_bounded_and_cold_loads_identical() {
    each_backend(|db: TestDb| async move {
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        let config = EngineConfig {
            snapshot_every_updates: 200,
            ..quick_config()
        };
        let e1 = engine(store.clone(), config.clone());
        let mut a = Client::connect(&e1);
        a.open("big").await;
        const N: usize = 5_000;
        for i in 0..N {
            a.type_text("big", &format!("{} ", i % 10));
            if i % 500 == 499 {
                assert!(
                    a.until(WAIT, |c| c.acks.len() == i + 1).await,
                    "[{}] acks up to {i}",
                    db.label
                );
            }
        }
        assert!(a.until(WAIT, |c| c.acks.len() == N).await);
        let stats = store.log_stats("big").await.expect("stats");
        assert!(
            stats.updates < 200,
            "[{}] log bounded, got {stats:?}",
            db.label
        );
        // The store numbers what it logs (pending updates are merged when a
        // snapshot is due), so "recent" is measured against its head.
        let head = store.heads(&[Arc::from("big")]).await.expect("heads")[0].1;
        assert!(
            head - stats.snapshot_seq < 200 && stats.snapshot_seq > 0,
            "[{}] snapshot is recent: {stats:?}, head {head}",
            db.label
        );
        let live = e1.live_room("big").expect("live").encode_state();

        let e2 = engine(Arc::new(db.store().await), config);
        let cold = e2.room("big").await.expect("cold load").encode_state();
        assert_eq!(
            sv_of_state(&cold),
            sv_of_state(&live),
            "[{}] state vectors",
            db.label
        );
        assert_eq!(
            text_of_state(&cold),
            text_of_state(&live),
            "[{}] content",
            db.label
        );
        assert_eq!(cold, live, "[{}] encoded state", db.label);
        assert_eq!(text_of_state(&cold), a.text());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_load_the_doc_once() {
    each_backend(|db: TestDb| async move {
        let faulty = FaultyStore::new(Arc::new(db.store().await));
        faulty.load_delay_ms.store(200, Ordering::SeqCst);
        let e = engine(faulty.clone(), quick_config());
        let mut clients: Vec<Client> = (0..20).map(|_| Client::connect(&e)).collect();
        let opens = clients.iter_mut().map(|c| c.session.open("cold"));
        let results = futures_join_all(opens).await;
        assert!(
            results.iter().all(Result::is_ok),
            "[{}] all opens succeed",
            db.label
        );
        assert_eq!(
            faulty.loads.load(Ordering::SeqCst),
            1,
            "[{}] loaded once",
            db.label
        );
        assert_eq!(e.load_count(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_is_an_error_and_never_an_empty_doc() {
    each_backend(|db: TestDb| async move {
        // Real content first.
        let e1 = engine(Arc::new(db.store().await), quick_config());
        let mut w = Client::connect(&e1);
        w.open("precious").await;
        w.type_text("precious", "keep me");
        assert!(w.until(WAIT, |c| c.acks.len() == 1).await);
        drop(w);
        assert!(e1.shutdown(WAIT).await);

        let faulty = FaultyStore::new(Arc::new(db.store().await));
        faulty.fail_loads.store(true, Ordering::SeqCst);
        let e2 = engine(faulty.clone(), quick_config());
        let mut clients: Vec<Client> = (0..5).map(|_| Client::connect(&e2)).collect();
        let results =
            futures_join_all(clients.iter_mut().map(|c| c.session.open("precious"))).await;
        for r in &results {
            assert!(
                matches!(r, Err(EngineError::LoadFailed(_))),
                "[{}] load error, got {r:?}",
                db.label
            );
        }
        assert_eq!(e2.room_count(), 0, "no half-made room left behind");
        let mut c = clients.pop().expect("client");
        assert!(matches!(
            c.session
                .sync("precious", SyncMessage::Update(&[0, 0]), None),
            Err(EngineError::DocNotOpen(_))
        ));
        let stats = faulty.log_stats("precious").await.expect("stats");
        assert_eq!(
            stats.updates + stats.snapshot_seq,
            1,
            "[{}] nothing written over the doc",
            db.label
        );

        // The store comes back: the real content is served.
        faulty.fail_loads.store(false, Ordering::SeqCst);
        c.open("precious").await;
        assert_eq!(c.text(), "keep me", "[{}]", db.label);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_wait_for_the_commit_and_broadcasts_do_not() {
    each_backend(|db: TestDb| async move {
        let faulty = FaultyStore::new(Arc::new(db.store().await));
        let e = engine(faulty.clone(), quick_config());
        let mut a = Client::connect(&e);
        let mut b = Client::connect(&e);
        a.open("d").await;
        b.open("d").await;
        faulty.fail_commits.store(true, Ordering::SeqCst);
        a.type_text("d", "hello");
        assert!(
            b.until(WAIT, |c| c.text() == "hello").await,
            "broadcast is immediate"
        );
        assert!(
            !a.until(Duration::from_millis(300), |c| !c.acks.is_empty())
                .await,
            "[{}] no ack before commit",
            db.label
        );
        faulty.fail_commits.store(false, Ordering::SeqCst);
        assert!(
            a.until(WAIT, |c| c.acks == vec![Some(1)]).await,
            "[{}] ack after the store recovers",
            db.label
        );
        assert!(e.metrics().store_commit_errors.load(Ordering::Relaxed) >= 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_rooms_are_flushed_evicted_and_reloaded() {
    each_backend(|db: TestDb| async move {
        let config = EngineConfig {
            room_idle_timeout: Duration::from_millis(100),
            ..quick_config()
        };
        let e = engine(Arc::new(db.store().await), config);
        let mut a = Client::connect(&e);
        a.open("idle").await;
        a.type_text("idle", "still here");
        drop(a);
        let deadline = tokio::time::Instant::now() + WAIT;
        while e.room_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(e.room_count(), 0, "[{}] evicted", db.label);
        assert_eq!(e.metrics().rooms_loaded.load(Ordering::Relaxed), 0);
        let mut b = Client::connect(&e);
        b.open("idle").await;
        assert_eq!(b.text(), "still here", "[{}]", db.label);
        assert_eq!(e.load_count(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_updates_are_logged_once_compacted_and_survive_a_reload() {
    each_backend(|db: TestDb| async move {
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        let config = EngineConfig {
            snapshot_every_updates: 5,
            ..quick_config()
        };
        let e = engine(store.clone(), config.clone());
        let mut a = Client::connect(&e);
        let mut b = Client::connect(&e);
        a.open("p").await;
        b.open("p").await;
        // Two edits from a third doc; the second depends on the first.
        let offline = yrs::Doc::with_client_id(4242);
        let text = offline.get_or_insert_text("t");
        let edit = |s: &str| {
            let mut txn = yrs::Transact::transact_mut(&offline);
            let len = yrs::Text::len(&text, &txn);
            yrs::Text::insert(&text, &mut txn, len, s);
            txn.encode_update_v1()
        };
        let first = edit("first;");
        let second = edit("second;");
        // The second arrives alone (twice): parked, logged once.
        a.session
            .sync("p", SyncMessage::Update(&second), Some(1))
            .expect("parked");
        a.session
            .sync("p", SyncMessage::Update(&second), Some(2))
            .expect("duplicate");
        assert!(a.until(WAIT, |c| c.acks.len() == 2).await);
        assert_eq!(
            e.live_room("p").expect("room").seqs().0,
            1,
            "[{}] the duplicate is not a new update",
            db.label
        );
        // Enough other edits to cross the snapshot bound while it is parked.
        for i in 0..12 {
            b.type_text("p", &format!("b{i} "));
        }
        assert!(b.until(WAIT, |c| c.acks.len() == 12).await);
        let stats = store.log_stats("p").await.expect("stats");
        assert!(
            stats.snapshot_seq > 0,
            "[{}] compaction goes on while an update is parked: {stats:?}",
            db.label
        );
        // A reload keeps the parked update; its predecessor then integrates both.
        let e2 = engine(Arc::new(db.store().await), config);
        let mut c = Client::connect(&e2);
        c.open("p").await;
        c.session
            .sync("p", SyncMessage::Update(&first), Some(1))
            .expect("first");
        assert!(c.until(WAIT, |c| c.acks.len() == 1).await);
        let state = e2.live_room("p").expect("room").encode_state();
        let text = text_of_state(&state);
        assert!(
            text.contains("first;second;"),
            "[{}] both edits after reload: {text:?}",
            db.label
        );
    })
    .await;
}

/// Every pooled SQLite connection runs in WAL mode with a busy timeout, and a
/// connection opened while another holds the write lock waits for it instead
/// of failing at once with "database is busy".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_connections_share_wal_and_wait_for_a_writer() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    // A writer holds the lock while the pool opens its other connections.
    let mut writer = goonline_engine::sql_store::begin_write(store.pool())
        .await
        .expect("write lock");
    sqlx::query("CREATE TABLE IF NOT EXISTS wal_probe (x INTEGER)")
        .execute(&mut *writer)
        .await
        .expect("write");
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut c = store.pool().acquire().await.expect("a new connection");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *c)
            .await
            .expect("journal mode");
        assert_eq!(mode.to_lowercase(), "wal");
        let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *c)
            .await
            .expect("busy timeout");
        assert!(timeout >= 5_000, "busy timeout {timeout}");
        conns.push(c);
    }
    // A second writer waits for the first instead of failing.
    let waiting = tokio::spawn({
        let pool = store.pool().clone();
        async move {
            let mut tx = goonline_engine::sql_store::begin_write(&pool).await?;
            sqlx::query("INSERT INTO wal_probe (x) VALUES (2)")
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
    });
    drop(conns);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    writer.commit().await.expect("first commit");
    waiting
        .await
        .expect("join")
        .expect("the second writer waited and committed");
}
