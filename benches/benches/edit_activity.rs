//! `edit_activity`: what recording edit activity (issue 6) costs each accepted
//! update on the server's hot path.
//!
//! One writer and 10 readers share a document (its log committed to a store
//! that keeps nothing, to keep commit work out of the variance); each
//! measured iteration is one real single-character Yjs text update through
//! `Session::sync` (apply, the roots it touched, sequence, fan-out, queue for
//! the group commit, report the edit) and the drain of every queue, as in
//! `broadcast`. Three cases, in one run:
//!
//! - `off/biz`: no activity receiver attached (what the engine did before);
//! - `on/biz`: the versions service's tracker attached, on a business
//!   document (`biz/...`: recorded, flushed every second, `doc.changed`
//!   debounced, automatic versions) — the production case;
//! - `on/anonymous`: the tracker attached, on an anonymous document (ignored
//!   at once: what load tests on anonymous documents pay).
//!
//! The tracker's flush task runs beside the writer on the runtime, as in the
//! server; its database writes are not in the timed section but share the
//! machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use goonline_benches::{NullStore, Typist, drain, runtime, start_engine};
use goonline_engine::EngineConfig;
use goonline_engine::events::EventNotifier;
use goonline_engine::store::Store;
use goonline_engine::testing::TestDb;
use goonline_engine::versions::{Versions, VersionsConfig};
use goonline_protocol::sync::SyncMessage;

const READERS: usize = 10;

fn bench_edit_activity(c: &mut Criterion) {
    let rt = runtime(1);
    let mut group = c.benchmark_group("edit_activity");
    for (tracker, doc) in [
        ("off", "biz/b1/ws/w1/d1"),
        ("on", "biz/b1/ws/w1/d1"),
        ("on", "bench-anonymous"),
    ] {
        let db = TestDb::sqlite();
        let sql = rt.block_on(db.store());
        // The document log commits nothing: its commits would dominate the
        // variance; the tracker still writes its rows to SQLite.
        let store: Arc<dyn Store> = Arc::new(NullStore);
        let engine = rt.block_on(async { start_engine(store, EngineConfig::default()) });
        let _versions = (tracker == "on").then(|| {
            rt.block_on(async {
                let v = Versions::start(
                    sql.clone(),
                    engine.clone(),
                    EventNotifier::default(),
                    VersionsConfig::default(),
                );
                engine.set_activity(v.activity());
                v
            })
        });
        let (mut writer, mut writer_events, mut readers) = rt.block_on(async {
            let (mut w, wev) = engine.connect().expect("connect writer");
            w.open(doc).await.expect("writer opens");
            let mut rs = Vec::new();
            for _ in 0..READERS {
                let (mut s, ev) = engine.connect().expect("connect reader");
                s.open(doc).await.expect("reader opens");
                rs.push((s, ev));
            }
            (w, wev, rs)
        });
        for (_, ev) in &mut readers {
            drain(ev);
        }
        drain(&mut writer_events);
        let mut typist = Typist::new(0xB0AD_CA57, 0x5EED);
        let mut next_ack = 0u64;
        let label = if doc.starts_with("biz/") {
            "biz"
        } else {
            "anonymous"
        };
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new(tracker, label), |b| {
            b.iter_custom(|iters| {
                let updates = typist.updates(iters as usize);
                let started = Instant::now();
                for update in &updates {
                    next_ack += 1;
                    writer
                        .sync(doc, SyncMessage::Update(update), Some(next_ack))
                        .expect("update accepted");
                    for (_, ev) in &mut readers {
                        drain(ev);
                    }
                    drain(&mut writer_events);
                }
                started.elapsed()
            })
        });
        assert!(
            rt.block_on(engine.flush(Duration::from_secs(30))),
            "flushed"
        );
        drop((writer, readers));
        rt.block_on(engine.shutdown(Duration::from_secs(5)));
        drop(db);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    targets = bench_edit_activity
}
criterion_main!(benches);
