//! `broadcast`: the server-side cost of one document update fanned out to many
//! readers of the same document.
//!
//! An [`Engine`] on a temporary SQLite file (and, for comparison, on a store that
//! commits nothing) holds one document opened by `readers` sessions plus one
//! writer session. Each measured iteration is one real single-character Yjs text
//! update (made beforehand by a separate Yrs document, outside the timing) going
//! through `Session::sync`: decode, apply to the room's document, sequence, queue
//! one shared broadcast on every reader's queue, queue for the group commit; then
//! the bench drains all reader queues (and the writer's acks) with `try_recv`.
//! The group-commit writer runs concurrently on a tokio worker thread, as in the
//! server. Throughput is reported in deliveries (= readers) per second.
//!
//! Cases: `sqlite/100` is the one to quote; `sqlite/1` gives the fixed cost per
//! update (so `(t100 - t1) / 99` is the marginal cost of one delivery);
//! `sqlite/1000` matches the 1,000-reader scenario of the load tests;
//! `null_store/100` commits nothing, to show how much the commit work running
//! beside the fan-out matters.
//!
//! The document grows through the run (one character per iteration, with a cursor
//! jump every ~40 characters), and a snapshot of it is encoded every 500 updates,
//! as the engine does in production.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use goonline_benches::{NullStore, Typist, drain, runtime, start_engine};
use goonline_engine::store::Store;
use goonline_engine::testing::TestDb;
use goonline_engine::{EngineConfig, Session, SessionEvents};
use goonline_protocol::sync::SyncMessage;

const DOC: &str = "bench-broadcast";

/// One doc with a writer and `readers` readers, all joined and their greetings
/// drained.
struct Fixture {
    writer: Session,
    writer_events: SessionEvents,
    readers: Vec<(Session, SessionEvents)>,
}

fn bench_broadcast(c: &mut Criterion) {
    let rt = runtime(1);
    let mut group = c.benchmark_group("broadcast");
    for (backend, readers) in [
        ("sqlite", 1),
        ("sqlite", 100),
        ("null_store", 100),
        ("sqlite", 1000),
    ] {
        let db = TestDb::sqlite();
        let store: Arc<dyn Store> = match backend {
            "sqlite" => Arc::new(rt.block_on(db.store())),
            _ => Arc::new(NullStore),
        };
        let engine = rt.block_on(async { start_engine(store, EngineConfig::default()) });
        let mut fx = rt.block_on(async {
            let (mut writer, writer_events) = engine.connect().expect("connect writer");
            writer.open(DOC).await.expect("writer opens");
            let mut sessions = Vec::with_capacity(readers);
            for _ in 0..readers {
                let (mut s, ev) = engine.connect().expect("connect reader");
                s.open(DOC).await.expect("reader opens");
                sessions.push((s, ev));
            }
            Fixture {
                writer,
                writer_events,
                readers: sessions,
            }
        });
        for (_, ev) in &mut fx.readers {
            drain(ev);
        }
        drain(&mut fx.writer_events);

        let mut typist = Typist::new(0xB0AD_CA57, 0x5EED);
        let mut next_ack = 0u64;
        group.throughput(Throughput::Elements(readers as u64));
        group.bench_function(BenchmarkId::new(backend, readers), |b| {
            b.iter_custom(|iters| {
                // Made outside the timing: the client's work, not the server's.
                let updates = typist.updates(iters as usize);
                let started = Instant::now();
                for update in &updates {
                    next_ack += 1;
                    fx.writer
                        .sync(DOC, SyncMessage::Update(update), Some(next_ack))
                        .expect("update accepted");
                    let mut delivered = 0;
                    for (_, ev) in &mut fx.readers {
                        delivered += drain(ev);
                    }
                    drain(&mut fx.writer_events);
                    assert_eq!(delivered, readers, "every reader gets the update");
                }
                started.elapsed()
            })
        });
        // Let the writer catch up before the next configuration starts.
        assert!(
            rt.block_on(engine.flush(Duration::from_secs(30))),
            "engine flushed"
        );
        drop(fx);
        rt.block_on(engine.shutdown(Duration::from_secs(5)));
        drop(db);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_broadcast
}
criterion_main!(benches);
