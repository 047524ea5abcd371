//! Several engines sharing one store and one bus, on SQLite and Postgres: the
//! multi-node paths without Redis. Edits made on different nodes converge and
//! every one is in the store exactly once under its own sequence number; lost
//! bus messages are made up from the store; awareness, and documents taken
//! out of service, reach the other nodes.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use goonline_engine::bus::{
    Bus, BusFuture, BusHandler, BusHealth, BusMessage, BusPayload, Channel, LocalBus,
};
use goonline_engine::metrics::Metrics;
use goonline_engine::store::Store;
use goonline_engine::testing::{TestDb, each_backend};
use goonline_engine::{Engine, EngineConfig, EngineParts};
use support::{Client, WAIT, awareness_update, text_of_state};

/// A bus that loses every `n`th document update while `lossy` is set, and
/// every control message while `lose_control` is set.
#[derive(Default)]
struct LossyBus {
    inner: Arc<LocalBus>,
    every: u64,
    seen: AtomicU64,
    lossy: AtomicBool,
    dropped: AtomicU64,
    lose_control: AtomicBool,
    handlers: std::sync::Mutex<Vec<Weak<dyn BusHandler>>>,
}

impl LossyBus {
    /// What a reconnect after an outage does: every node resyncs.
    fn resync_all(&self) {
        for h in self
            .handlers
            .lock()
            .unwrap()
            .iter()
            .filter_map(Weak::upgrade)
        {
            h.resync();
        }
    }
}

impl Bus for LossyBus {
    fn publish(&self, msg: BusMessage) {
        if matches!(msg.payload, BusPayload::Control(_)) && self.lose_control.load(Ordering::SeqCst)
        {
            return;
        }
        if matches!(msg.payload, BusPayload::Update { .. }) && self.lossy.load(Ordering::SeqCst) {
            let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
            if n.is_multiple_of(self.every) {
                self.dropped.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
        self.inner.publish(msg);
    }
    fn attach(&self, handler: Weak<dyn BusHandler>) {
        self.handlers.lock().unwrap().push(handler.clone());
        self.inner.attach(handler);
    }
    fn subscribe(&self, channel: Channel) -> BusFuture<'_> {
        self.inner.subscribe(channel)
    }
    fn unsubscribe(&self, channel: Channel) {
        self.inner.unsubscribe(channel);
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    fn health(&self) -> BusHealth {
        self.inner.health()
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        sweep_interval: Duration::from_millis(20),
        bus_audit_interval: Duration::from_millis(200),
        gap_repair_after: Duration::from_millis(50),
        // Small enough that the nodes' snapshots interleave with the edits.
        snapshot_every_updates: 40,
        ..EngineConfig::default()
    }
}

fn node(store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Engine {
    Engine::start(EngineParts {
        config: config(),
        store,
        bus,
        access: Arc::new(goonline_engine::access::AllowAll),
        metrics: Arc::new(Metrics::default()),
    })
}

/// Types `rounds` edits on each client in turn, without waiting in between.
async fn type_on_all(clients: &mut [Client], doc: &str, rounds: usize) {
    for r in 0..rounds {
        for (i, c) in clients.iter_mut().enumerate() {
            c.type_text(doc, &format!("<{i}.{r}>"));
        }
        if r % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

/// Waits until every client's text has `len` characters and they all agree.
async fn converge(clients: &mut [Client], len: usize) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for c in clients.iter_mut() {
            c.pump();
        }
        let texts: Vec<String> = clients.iter().map(Client::text).collect();
        if texts.iter().all(|t| t.len() == len && *t == texts[0]) {
            return texts[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "clients did not converge: {:?}",
            texts.iter().map(String::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts the stored log of `doc` rebuilds `text` and that its sequence
/// numbers after the snapshot are contiguous.
async fn assert_stored(store: &dyn Store, doc: &str, text: &str, l: &str) {
    let stored = store.load(doc).await.expect("load");
    let mut expect = stored.snapshot.as_ref().map_or(0, |(s, _)| *s);
    for (seq, _) in &stored.tail {
        expect += 1;
        assert_eq!(*seq, expect, "[{l}] stored sequence numbers have a hole");
    }
    let rebuilt = goonline_engine::testing::rebuild(&stored);
    assert_eq!(
        text_of_state(&rebuilt),
        text,
        "[{l}] the store lost an edit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_on_three_nodes_converge_and_are_each_stored_once() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        let bus = LocalBus::new();
        let nodes: Vec<Engine> = (0..3).map(|_| node(store.clone(), bus.clone())).collect();
        let mut clients: Vec<Client> = nodes.iter().map(Client::connect).collect();
        for c in clients.iter_mut() {
            c.open("shared").await;
        }
        type_on_all(&mut clients, "shared", 60).await;
        let expected_len: usize = (0..3)
            .flat_map(|i| (0..60).map(move |r| format!("<{i}.{r}>").len()))
            .sum();
        let text = converge(&mut clients, expected_len).await;
        for (i, c) in clients.iter_mut().enumerate() {
            assert!(
                c.until(WAIT, |c| c.acks.len() == 60).await,
                "[{l}] node {i}'s client got every ack"
            );
        }
        for n in &nodes {
            assert!(n.flush(WAIT).await, "[{l}] flushed");
        }
        assert_stored(&*store, "shared", &text, l).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_lost_on_the_bus_are_read_from_the_store() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        let bus = Arc::new(LossyBus {
            inner: LocalBus::new(),
            every: 3,
            lossy: AtomicBool::new(true),
            ..LossyBus::default()
        });
        let a = node(store.clone(), bus.clone());
        let b = node(store.clone(), bus.clone());
        let mut ca = Client::connect(&a);
        let mut cb = Client::connect(&b);
        ca.open("lossy").await;
        cb.open("lossy").await;
        // Only A writes: B sees holes in the sequence, and the last update
        // may be among the lost (only the audit can find that one).
        let mut expected = String::new();
        for r in 0..40 {
            let s = format!("[{r}]");
            ca.type_text("lossy", &s);
            expected.push_str(&s);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(
            cb.until(WAIT, |c| c.text() == expected).await,
            "[{l}] B caught up: {:?}",
            cb.text()
        );
        assert!(
            bus.dropped.load(Ordering::SeqCst) > 0,
            "[{l}] the bus lost some"
        );
        assert!(
            b.metrics().doc_catchups.load(Ordering::Relaxed) > 0,
            "[{l}] B read from the store"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_reaches_the_other_node_and_leaves_with_its_session() {
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.store().await);
    let bus = LocalBus::new();
    let a = node(store.clone(), bus.clone());
    let b = node(store.clone(), bus.clone());
    let mut ca = Client::connect(&a);
    let mut cb = Client::connect(&b);
    ca.open("room").await;
    cb.open("room").await;
    ca.session
        .awareness("room", &awareness_update(77, 1, r#"{"name":"Awa"}"#))
        .expect("awareness");
    let seen = |c: &Client, needle: &str| {
        c.awareness
            .iter()
            .any(|u| String::from_utf8_lossy(u).contains(needle))
    };
    assert!(
        cb.until(WAIT, |c| seen(c, "Awa")).await,
        "B's client sees A's client"
    );
    // A node that opens the document later asks for the states already there.
    let c = node(store.clone(), bus.clone());
    let mut cc = Client::connect(&c);
    cc.open("room").await;
    assert!(
        cc.until(WAIT, |c| seen(c, "Awa")).await,
        "a late node learns the states at once"
    );
    // Leaving removes the state on the other nodes now, not after the TTL.
    let before = cb.awareness.len();
    ca.session.close_doc("room").expect("close");
    assert!(
        cb.until(Duration::from_secs(3), |c| c.awareness[before..]
            .iter()
            .any(|u| String::from_utf8_lossy(u).contains("null")))
            .await,
        "B's client saw A's client leave"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_retired_on_one_node_stops_taking_writes_on_the_others() {
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.store().await);
    let bus = LocalBus::new();
    let a = node(store.clone(), bus.clone());
    let b = node(store.clone(), bus.clone());
    let mut cb = Client::connect(&b);
    cb.open("moving").await;
    cb.type_text("moving", "before");
    assert!(cb.until(WAIT, |c| c.acks.len() == 1).await);
    a.retire_doc("moving").await.expect("retire");
    let refused = cb.session.sync(
        "moving",
        goonline_protocol::sync::SyncMessage::Update(&[0, 0]),
        Some(9),
    );
    assert!(refused.is_err(), "B refuses writes to the retired name");
    assert!(b.room("moving").await.is_err(), "B will not load it again");
    a.reinstate_doc("moving");
    assert!(b.room("moving").await.is_ok(), "reinstated on B too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_on_a_fresh_database_migrate_it_once() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let starts = (0..4).map(|_| goonline_engine::sql_store::SqlStore::connect(&db.url));
        for (i, r) in support::futures_join_all(starts)
            .await
            .into_iter()
            .enumerate()
        {
            if let Err(e) = r {
                panic!("[{l}] node {i} failed to start: {e}");
            }
        }
        let store = db.store().await;
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM goonline_migrations")
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert!(
            applied >= 10,
            "[{l}] every migration recorded once: {applied}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_behind_its_log_fails_one_commit_never_an_update() {
    use goonline_engine::store::LogWrite;
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let sql = db.store().await;
        let doc: Arc<str> = Arc::from("legacy");
        let append = |b: &'static [u8]| LogWrite::Append {
            doc: doc.clone(),
            data: bytes::Bytes::from_static(b),
        };
        assert_eq!(
            sql.commit(&[append(b"one")]).await.expect("commit"),
            vec![1]
        );
        // A row the head does not know (an old node's, or a hand restore).
        sqlx::query("INSERT INTO doc_updates (doc, seq, data, created_at) VALUES ($1, 2, $2, 0)")
            .bind("legacy")
            .bind(&b"two"[..])
            .execute(sql.pool())
            .await
            .expect("legacy row");
        assert!(
            sql.commit(&[append(b"three")]).await.is_err(),
            "[{l}] refused, not written over or skipped"
        );
        assert_eq!(
            sql.commit(&[append(b"three")]).await.expect("retry"),
            vec![3],
            "[{l}] the retry numbers past the row"
        );
        let stored = sql.load("legacy").await.expect("load");
        let datas: Vec<&[u8]> = stored.tail.iter().map(|(_, d)| d.as_ref()).collect();
        assert_eq!(
            datas,
            vec![&b"one"[..], b"two", b"three"],
            "[{l}] every update kept"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_in_flight_for_a_document_moved_elsewhere_are_not_logged_under_its_old_name() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let sql = db.store().await;
        let store: Arc<dyn Store> = Arc::new(sql.clone());
        // B never hears of the move (its Retire message was lost).
        let b = node(store.clone(), LocalBus::new());
        let mut cb = Client::connect(&b);
        cb.open("old").await;
        cb.type_text("old", "kept");
        assert!(
            cb.until(WAIT, |c| c.acks.len() == 1).await,
            "[{l}] first edit acked"
        );
        // What a move on another node commits: the rows renamed, a redirect.
        for sql_text in [
            "UPDATE doc_updates SET doc = 'new' WHERE doc = 'old'",
            "UPDATE doc_heads SET doc = 'new' WHERE doc = 'old'",
            "INSERT INTO doc_redirects (old_name, new_name, at) VALUES ('old', 'new', 0)",
        ] {
            sqlx::query(sql_text)
                .execute(sql.pool())
                .await
                .expect("move");
        }
        cb.type_text("old", " late");
        tokio::time::sleep(Duration::from_millis(300)).await;
        cb.pump();
        assert_eq!(cb.acks.len(), 1, "[{l}] the late edit is not acknowledged");
        let orphans = store.load("old").await.expect("load");
        assert!(
            orphans.tail.is_empty() && orphans.snapshot.is_none(),
            "[{l}] nothing logged under the old name"
        );
        assert!(
            b.room("old").await.is_err(),
            "[{l}] B no longer serves the old name"
        );
        // The move is undone and the name reinstated: B serves it from the
        // store, not from the stopped room whose late edit was never logged.
        for sql_text in [
            "DELETE FROM doc_redirects WHERE old_name = 'old'",
            "UPDATE doc_updates SET doc = 'old' WHERE doc = 'new'",
            "UPDATE doc_heads SET doc = 'old' WHERE doc = 'new'",
        ] {
            sqlx::query(sql_text)
                .execute(sql.pool())
                .await
                .expect("undo");
        }
        b.reinstate_doc("old");
        let fresh = b.room("old").await.expect("reinstated");
        assert_eq!(
            text_of_state(&fresh.encode_state()),
            "kept",
            "[{l}] a fresh room from the store"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_a_node_rechecks_what_lost_control_messages_changed() {
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.store().await);
    let bus = Arc::new(LossyBus {
        inner: LocalBus::new(),
        every: 1,
        lose_control: AtomicBool::new(true),
        ..LossyBus::default()
    });
    let a = node(store.clone(), bus.clone());
    let b = node(store.clone(), bus.clone());
    let rechecked = Arc::new(AtomicBool::new(false));
    let flag = rechecked.clone();
    b.on_resync(Arc::new(move || flag.store(true, Ordering::SeqCst)));
    // A sign-out on A whose message never reaches B.
    a.end_user_sessions("u1", None, 4401, "signed out");
    assert!(!rechecked.load(Ordering::SeqCst));
    // The bus comes back: B hands the re-check to its server.
    bus.resync_all();
    assert!(
        rechecked.load(Ordering::SeqCst),
        "B re-checks its sign-ins after the outage"
    );
    assert!(
        b.metrics().bus_resyncs.load(Ordering::Relaxed) >= 1,
        "the resync is counted"
    );
}
