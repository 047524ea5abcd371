//! Engine behaviour on real stores (SQLite always, Postgres when configured):
//! durability and acks, compaction, single-flight loads, failed loads, awareness,
//! eviction, refusals and slow consumers.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use goonline_engine::store::Store;
use goonline_engine::testing::{FaultyStore, TestDb, each_backend};
use goonline_engine::{EngineConfig, EngineError};
use goonline_protocol::awareness::{
    AwarenessEntry, decode_awareness_update, encode_awareness_update,
};
use goonline_protocol::codes::close;
use goonline_protocol::sync::SyncMessage;
use support::{Client, WAIT, engine, sv_of_state, text_of_state};

fn quick_config() -> EngineConfig {
    EngineConfig {
        sweep_interval: Duration::from_millis(20),
        ..EngineConfig::default()
    }
}

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
        assert!(
            stats.snapshot_seq >= (N - 200) as u64,
            "[{}] snapshot is recent: {stats:?}",
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

fn awareness_update(client_id: u64, clock: u64, state: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_awareness_update(
        [AwarenessEntry {
            client_id,
            clock,
            state,
        }],
        &mut out,
    );
    out
}

fn live_states(updates: &[Vec<u8>]) -> std::collections::HashMap<u64, String> {
    let mut states = std::collections::HashMap::new();
    for u in updates {
        for e in decode_awareness_update(u).expect("awareness decodes") {
            if e.is_removal() {
                states.remove(&e.client_id);
            } else {
                states.insert(e.client_id, e.state.to_string());
            }
        }
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_is_relayed_expires_and_leaves_with_its_session() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        awareness_ttl: Duration::from_millis(300),
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut a = Client::connect(&e);
    let mut b = Client::connect(&e);
    a.open("room").await;
    b.open("room").await;
    a.session
        .awareness("room", &awareness_update(7, 1, r#"{"user":"ana"}"#))
        .expect("awareness");
    assert!(
        b.until(WAIT, |c| live_states(&c.awareness)
            .get(&7)
            .map(String::as_str)
            == Some(r#"{"user":"ana"}"#))
            .await
    );
    assert!(
        a.until(WAIT, |c| live_states(&c.awareness).contains_key(&7))
            .await,
        "echoed to the sender"
    );
    // A stale clock loses.
    a.session
        .awareness("room", &awareness_update(7, 0, r#"{"user":"old"}"#))
        .expect("awareness");
    // Not renewed: removed after the TTL.
    assert!(
        b.until(WAIT, |c| !c.awareness.is_empty()
            && !live_states(&c.awareness).contains_key(&7))
            .await,
        "expired"
    );

    // A newcomer gets current states; a leaving session's states go with it.
    b.session
        .awareness("room", &awareness_update(9, 1, r#"{"user":"ben"}"#))
        .expect("awareness");
    let mut c = Client::connect(&e);
    c.open("room").await;
    assert!(
        c.until(WAIT, |c| live_states(&c.awareness).contains_key(&9))
            .await,
        "newcomer sees ben"
    );
    drop(b);
    assert!(
        c.until(WAIT, |c| !live_states(&c.awareness).contains_key(&9))
            .await,
        "ben left"
    );
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
async fn refused_updates_leave_the_doc_untouched() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        max_doc_bytes: 2_000,
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut a = Client::connect(&e);
    let mut b = Client::connect(&e);
    a.open("d").await;
    b.open("d").await;
    a.type_text("d", "ok");
    assert!(b.until(WAIT, |c| c.text() == "ok").await);
    let garbage = [1u8, 200, 3, 4, 5, 6, 7];
    assert!(matches!(
        a.session.sync("d", SyncMessage::Update(&garbage), Some(9)),
        Err(EngineError::InvalidUpdate(_))
    ));
    assert!(matches!(
        a.session.sync("d", SyncMessage::Step1(&[5, 1]), None),
        Err(EngineError::InvalidUpdate(_))
    ));
    let big = "x".repeat(3_000);
    let err = {
        let text = a.doc.get_or_insert_text("other");
        let mut txn = yrs::Transact::transact_mut(&a.doc);
        yrs::Text::insert(&text, &mut txn, 0, &big);
        let u = txn.encode_update_v1();
        drop(txn);
        a.session.sync("d", SyncMessage::Update(&u), Some(10))
    };
    assert!(
        matches!(err, Err(EngineError::DocTooLarge { .. })),
        "got {err:?}"
    );
    assert!(matches!(
        a.session.sync("nope", SyncMessage::Update(&[0, 0]), None),
        Err(EngineError::DocNotOpen(_))
    ));
    assert!(matches!(
        a.session.open("").await,
        Err(EngineError::InvalidDocName(_))
    ));
    let live = e.live_room("d").expect("room").encode_state();
    assert_eq!(text_of_state(&live), "ok", "doc untouched");
    b.type_text("d", "!");
    assert!(
        a.until(WAIT, |c| c.text() == "ok!").await,
        "the doc goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_killed_and_others_are_unaffected() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        session_queue: 32,
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut writer = Client::connect(&e);
    let mut reader = Client::connect(&e);
    let mut slow = Client::connect(&e);
    writer.open("fast").await;
    reader.open("fast").await;
    slow.open("fast").await;
    for i in 0..200 {
        writer.type_text("fast", &format!("{i},"));
        reader.pump();
        // The writer reads its acks as it goes: only `slow` stops reading.
        writer
            .until(Duration::from_millis(5), |c| c.acks.len() > i)
            .await;
    }
    let (code, _) = tokio::time::timeout(WAIT, slow.events.kill.killed())
        .await
        .expect("slow consumer killed");
    assert_eq!(code, close::SLOW_CONSUMER);
    assert!(e.metrics().slow_consumer_closes.load(Ordering::Relaxed) >= 1);
    assert!(
        reader.until(WAIT, |c| c.text() == writer.text()).await,
        "the reader got everything"
    );
    assert!(
        writer.until(WAIT, |c| c.acks.len() == 200).await,
        "the writer got every ack"
    );
    assert!(!reader.events.kill.is_killed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_docs_per_connection_and_connections() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        max_open_docs: 2,
        max_connections: 3,
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut a = Client::connect(&e);
    a.session.open("one").await.expect("one");
    a.session.open("two").await.expect("two");
    assert!(matches!(
        a.session.open("three").await,
        Err(EngineError::TooManyDocs(2))
    ));
    assert!(matches!(
        a.session.open("one").await,
        Err(EngineError::DocAlreadyOpen(_))
    ));
    let _b = Client::connect(&e);
    let _c = Client::connect(&e);
    assert!(matches!(
        e.connect(None),
        Err(EngineError::TooManyConnections(3))
    ));
    drop(a);
    assert!(e.connect(None).is_ok(), "a freed slot is reusable");
}

/// Joins futures without pulling in another crate.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut out = Vec::new();
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
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
