//! `group_commit`: what one durable transaction costs, and how the engine's group
//! commit spreads that cost over many updates.
//!
//! - `group_commit/store/<backend>/<n>`: `Store::commit` of a batch of `n` appends
//!   (real ~26-byte Yjs updates, spread round-robin over 8 documents with fresh
//!   sequence numbers, so every row is really inserted) in one transaction.
//!   Throughput is in appended updates per second.
//! - `group_commit/e2e/<backend>/pipelined_10x100`: 10 sessions, each writing its
//!   own document, send 100 updates each (1,000 in all, interleaved) through
//!   `Session::sync` as fast as they can; the iteration ends when all 1,000 durability
//!   acks have arrived. Commits overlap the sending, so each transaction carries
//!   whatever piled up while the previous one ran.
//! - `group_commit/e2e/<backend>/serial_1`: one session sends one update and waits
//!   for its ack before the next: one transaction per update, no amortization.
//!
//! The ratio of the two e2e per-update times is the group-commit amortization; the
//! bench also prints the average number of writes per transaction it observed.
//! SQLite runs in WAL mode with `synchronous=NORMAL` (no fsync per commit);
//! Postgres runs with its defaults (`synchronous_commit=on`: a WAL flush per
//! commit). Postgres is used when `TEST_DATABASE_URL`/`DATABASE_URL` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use goonline_benches::{Typist, drain, runtime, start_engine};
use goonline_engine::outbound::Outbound;
use goonline_engine::store::{LogWrite, Store};
use goonline_engine::testing::TestDb;
use goonline_engine::{Engine, EngineConfig, Session, SessionEvents};
use goonline_protocol::sync::SyncMessage;
use tokio::runtime::Runtime;

const BATCHES: [usize; 3] = [1, 16, 256];
const STORE_DOCS: usize = 8;
const E2E_SESSIONS: usize = 10;
const E2E_PER_SESSION: usize = 100;

fn databases(rt: &Runtime) -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    match rt.block_on(TestDb::postgres()) {
        Some(db) => dbs.push(db),
        None => eprintln!("group_commit: TEST_DATABASE_URL not set, Postgres skipped"),
    }
    dbs
}

/// Builds `count` batches of `size` appends spread over `docs` (the store
/// numbers them).
fn make_batches(
    docs: &[Arc<str>],
    pool: &[Bytes],
    size: usize,
    count: usize,
) -> Vec<Vec<LogWrite>> {
    let mut k = 0usize;
    (0..count)
        .map(|_| {
            (0..size)
                .map(|_| {
                    let d = k % docs.len();
                    k += 1;
                    LogWrite::Append {
                        doc: docs[d].clone(),
                        data: pool[k % pool.len()].clone(),
                    }
                })
                .collect()
        })
        .collect()
}

fn bench_store_commit(c: &mut Criterion) {
    let rt = runtime(1);
    let dbs = databases(&rt);
    let pool = Typist::new(0xA11C_E5E7, 3).updates(1024);
    let avg = pool.iter().map(Bytes::len).sum::<usize>() / pool.len();
    eprintln!("group_commit: appended updates average {avg} bytes");
    let mut group = c.benchmark_group("group_commit/store");
    for db in &dbs {
        let store = rt.block_on(db.store());
        for &size in &BATCHES {
            // Fresh document names per batch size: each case starts on its own rows.
            let docs: Vec<Arc<str>> = (0..STORE_DOCS)
                .map(|d| Arc::from(format!("gc-{size}-{d}")))
                .collect();
            group.throughput(Throughput::Elements(size as u64));
            group.bench_function(BenchmarkId::new(db.label, size), |b| {
                b.iter_custom(|iters| {
                    let batches = make_batches(&docs, &pool, size, iters as usize);
                    let started = Instant::now();
                    rt.block_on(async {
                        for batch in &batches {
                            store.commit(batch).await.expect("commit");
                        }
                    });
                    started.elapsed()
                })
            });
        }
        rt.block_on(store.close());
    }
    group.finish();
}

/// Writers for the end-to-end cases: `n` sessions, each with its own document and
/// its own typist.
struct Writers {
    engine: Engine,
    sessions: Vec<(Session, SessionEvents, Typist, String)>,
    next_id: u64,
}

impl Writers {
    fn new(rt: &Runtime, store: Arc<dyn Store>, n: usize, tag: &str) -> Writers {
        let engine = rt.block_on(async { start_engine(store, EngineConfig::default()) });
        let sessions = (0..n)
            .map(|i| {
                let doc = format!("e2e-{tag}-{i}");
                let (mut s, mut ev) = engine.connect().expect("connect");
                rt.block_on(s.open(&doc)).expect("open");
                drain(&mut ev);
                (
                    s,
                    ev,
                    Typist::new(0x7000_0000 + 7919 * i as u64, 77 + i as u64),
                    doc,
                )
            })
            .collect();
        Writers {
            engine,
            sessions,
            next_id: 0,
        }
    }

    /// Commit counters so far: (transactions, writes).
    fn commits(&self) -> (u64, u64) {
        let m = self.engine.metrics();
        (
            m.store_commit_seconds.count(),
            m.store_commit_writes
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Sends `per_session` updates from every session (interleaved) and waits for
    /// all their acks. The updates are made before the clock starts.
    fn round(&mut self, rt: &Runtime, per_session: usize) -> Duration {
        let mut per_writer: Vec<std::vec::IntoIter<Bytes>> = self
            .sessions
            .iter_mut()
            .map(|(_, _, t, _)| t.updates(per_session).into_iter())
            .collect();
        let started = Instant::now();
        for _ in 0..per_session {
            for ((s, _, _, doc), ups) in self.sessions.iter_mut().zip(&mut per_writer) {
                let update = ups.next().expect("one update per round");
                self.next_id += 1;
                s.sync(doc, SyncMessage::Update(&update), Some(self.next_id))
                    .expect("update accepted");
            }
        }
        rt.block_on(async {
            for (_, ev, _, _) in &mut self.sessions {
                let mut acks = 0;
                while acks < per_session {
                    match ev.rx.recv().await.expect("session queue open").msg {
                        Outbound::Ack { .. } => acks += 1,
                        other => panic!("unexpected message {other:?}"),
                    }
                }
            }
        });
        started.elapsed()
    }
}

fn bench_e2e(c: &mut Criterion) {
    let rt = runtime(1);
    let dbs = databases(&rt);
    let mut group = c.benchmark_group("group_commit/e2e");
    group.sample_size(10);
    for db in &dbs {
        let store: Arc<dyn Store> = Arc::new(rt.block_on(db.store()));

        let mut w = Writers::new(&rt, store.clone(), E2E_SESSIONS, "pipelined");
        let total = (E2E_SESSIONS * E2E_PER_SESSION) as u64;
        group.throughput(Throughput::Elements(total));
        group.bench_function(
            BenchmarkId::new(
                db.label,
                format!("pipelined_{E2E_SESSIONS}x{E2E_PER_SESSION}"),
            ),
            |b| b.iter_custom(|iters| (0..iters).map(|_| w.round(&rt, E2E_PER_SESSION)).sum()),
        );
        let (tx, writes) = w.commits();
        eprintln!(
            "group_commit/e2e[{}] pipelined: {} transactions for {} writes = {:.1} writes per commit",
            db.label,
            tx,
            writes,
            writes as f64 / tx.max(1) as f64
        );
        rt.block_on(w.engine.shutdown(Duration::from_secs(10)));
        drop(w);

        let mut w = Writers::new(&rt, store.clone(), 1, "serial");
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new(db.label, "serial_1"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| w.round(&rt, 1)).sum())
        });
        let (tx, writes) = w.commits();
        eprintln!(
            "group_commit/e2e[{}] serial: {} transactions for {} writes = {:.2} writes per commit",
            db.label,
            tx,
            writes,
            writes as f64 / tx.max(1) as f64
        );
        rt.block_on(w.engine.shutdown(Duration::from_secs(10)));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_store_commit, bench_e2e
}
criterion_main!(benches);
