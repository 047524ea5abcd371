//! `cold_load`: opening a document that is not in memory, before and after
//! compaction.
//!
//! Two documents with the same content (10,000 single-character Yjs updates
//! typed by one client) are written to the store:
//! - `log_10k`: log only, 10,000 `LogWrite::Append` rows and no snapshot (what a
//!   store holds if compaction never ran);
//! - `compacted`: the same 10,000 appends, then a snapshot at 9,900 (which drops
//!   the rows it covers) and a tail of the last 100 updates (the engine snapshots
//!   every 500 updates, so a real tail is 0-499 rows).
//!
//! Two measurements each:
//! - `room`: `Engine::room(doc)` on a fresh engine per iteration (engine start-up
//!   is outside the timing): the store read plus decoding and applying every
//!   stored update into a new Yrs document — what the first opener of a cold
//!   document waits for;
//! - `store_load`: `Store::load(doc)` alone, to split database time from Yrs time.
//!
//! "Cold" means not live in the engine; the database's own page cache (SQLite's
//! per-connection cache, the OS page cache, Postgres' shared buffers) is warm.
//! Runs on SQLite and, when `TEST_DATABASE_URL`/`DATABASE_URL` names a Postgres
//! server, on Postgres too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use goonline_benches::{Typist, appends, runtime, start_engine};
use goonline_engine::EngineConfig;
use goonline_engine::store::{LogWrite, Store};
use goonline_engine::testing::TestDb;
use tokio::runtime::Runtime;

const UPDATES: usize = 10_000;
const TAIL: usize = 100;
const LOG_DOC: &str = "cold-log-10k";
const COMPACTED_DOC: &str = "cold-compacted";

/// Writes both documents; returns the expected text length.
async fn seed(store: &dyn Store) -> usize {
    let mut typist = Typist::new(0xC01D_F00D, 0xFEED);
    let head = typist.updates(UPDATES - TAIL);
    let snapshot = typist.state();
    let tail = typist.updates(TAIL);
    let all: Vec<_> = head.iter().chain(tail.iter()).cloned().collect();

    let log_doc: Arc<str> = Arc::from(LOG_DOC);
    store
        .commit(&appends(&log_doc, &all, UPDATES))
        .await
        .expect("write log-only doc");

    let compacted: Arc<str> = Arc::from(COMPACTED_DOC);
    store
        .commit(&appends(&compacted, &all, UPDATES))
        .await
        .expect("write compacted doc's log");
    store
        .commit(&[LogWrite::Snapshot {
            doc: compacted.clone(),
            seq: (UPDATES - TAIL) as u64,
            data: snapshot,
        }])
        .await
        .expect("write snapshot");

    let log = store.log_stats(LOG_DOC).await.expect("stats");
    assert_eq!((log.updates, log.snapshot_seq), (UPDATES as u64, 0));
    let comp = store.log_stats(COMPACTED_DOC).await.expect("stats");
    assert_eq!(
        (comp.updates, comp.snapshot_seq),
        (TAIL as u64, (UPDATES - TAIL) as u64)
    );
    typist.content().len()
}

/// Times `Engine::room(doc)` on a fresh engine per iteration.
fn time_room_loads(rt: &Runtime, store: &Arc<dyn Store>, doc: &str, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let engine = rt.block_on(async { start_engine(store.clone(), EngineConfig::default()) });
        let started = Instant::now();
        let room = rt.block_on(engine.room(doc)).expect("room loads");
        total += started.elapsed();
        assert_eq!(room.seqs().0, UPDATES as u64);
        drop(room);
        rt.block_on(engine.shutdown(Duration::from_secs(5)));
    }
    total
}

fn bench_cold_load(c: &mut Criterion) {
    let rt = runtime(1);
    let mut dbs = vec![TestDb::sqlite()];
    match rt.block_on(TestDb::postgres()) {
        Some(db) => dbs.push(db),
        None => eprintln!("cold_load: TEST_DATABASE_URL not set, Postgres skipped"),
    }
    let mut group = c.benchmark_group("cold_load");
    group.sample_size(10);
    for db in &dbs {
        let store: Arc<dyn Store> = Arc::new(rt.block_on(db.store()));
        let text_len = rt.block_on(seed(store.as_ref()));
        // Sanity: both documents rebuild the same text.
        let engine = rt.block_on(async { start_engine(store.clone(), EngineConfig::default()) });
        let a = rt
            .block_on(engine.room(LOG_DOC))
            .expect("load")
            .encode_state();
        let b = rt
            .block_on(engine.room(COMPACTED_DOC))
            .expect("load")
            .encode_state();
        rt.block_on(engine.shutdown(Duration::from_secs(5)));
        eprintln!(
            "cold_load[{}]: text {} chars; full state {} bytes (log-only doc), {} bytes (compacted doc)",
            db.label,
            text_len,
            a.len(),
            b.len()
        );

        for (case, doc) in [("log_10k", LOG_DOC), ("compacted", COMPACTED_DOC)] {
            group.bench_function(
                BenchmarkId::new(format!("{}/room", db.label), case),
                |bch| bch.iter_custom(|iters| time_room_loads(&rt, &store, doc, iters)),
            );
            group.bench_function(
                BenchmarkId::new(format!("{}/store_load", db.label), case),
                |bch| {
                    bch.iter(|| {
                        let stored = rt.block_on(store.load(doc)).expect("load");
                        assert_eq!(stored.last_seq(), UPDATES as u64);
                        stored
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_cold_load
}
criterion_main!(benches);
