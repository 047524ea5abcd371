//! The runner behind the edit scenarios (fan-out, many rooms, presence, many
//! writers): documents with writers at fixed rates and light readers, measured
//! together.
//!
//! Order of a run: generate every writer's edits with a real Yrs document (before
//! the clock starts, so generating costs the run nothing); connect and sync every
//! reader, then every writer; start the CPU windows; writers send on schedule
//! while readers tally arrivals; wait until every reader has every edit (or the
//! drain timeout); stop the windows; read RSS; stop the clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Transact, Update};

use crate::connect::{JoinError, join};
use crate::histogram::Histogram;
use crate::presence::Presence;
use crate::procstat::{CpuWindow, Proc};
use crate::tally::{Clocks, Tally};
use crate::wire::Dialect;

mod clients;

use clients::{ReaderArgs, WriterArgs, read_loop, write_loop};

/// One document of a run.
#[derive(Debug, Clone)]
pub struct DocPlan {
    /// Document name.
    pub name: String,
    /// Edits per second of each writer.
    pub writer_rates: Vec<f64>,
    /// Number of readers.
    pub readers: usize,
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct SwarmPlan {
    /// Protocol spoken.
    pub dialect: Dialect,
    /// Base URL (see [`Dialect::url`]).
    pub url: String,
    /// Where readers join, round-robin (empty: `url`): other nodes of a
    /// cluster, so every delivery crosses the bus.
    pub reader_urls: Vec<String>,
    /// The documents.
    pub docs: Vec<DocPlan>,
    /// How long writers write.
    pub duration: Duration,
    /// Awareness traffic from every client, if on.
    pub presence: Option<Presence>,
    /// Readers also apply every update to a Yrs document, and the run checks that
    /// they and a fresh client converge on the same text.
    pub verify: bool,
    /// How long to wait after the last edit for deliveries still in flight.
    pub drain: Duration,
    /// Time between the last client joining and the first edit (lets the join
    /// traffic, e.g. initial awareness states, settle).
    pub settle: Duration,
    /// The server process, for CPU and RSS.
    pub server: Option<u32>,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct SwarmOutcome {
    /// Edit deliveries expected (edits × readers of their document).
    pub expected: u64,
    /// First deliveries seen.
    pub delivered: u64,
    /// Deliveries seen again.
    pub duplicates: u64,
    /// Frames that carried new edits, over all readers.
    pub frames: u64,
    /// Latency of every first delivery.
    pub latency: Histogram,
    /// From the first edit until everything arrived (or the drain gave up).
    pub elapsed: Duration,
    /// Server CPU over that window, ns, and percent of a core.
    pub server_cpu: Option<(u64, f64)>,
    /// The load generator's CPU, percent of a core.
    pub loadgen_cpu_pct: Option<f64>,
    /// Server RSS at the end, kB.
    pub server_rss_kb: Option<u64>,
    /// Awareness frames and entries received by all clients in the window.
    pub awareness_frames: u64,
    /// Client states in those frames.
    pub awareness_entries: u64,
    /// Problems: lost sockets, refusals, divergence.
    pub errors: Vec<String>,
}

/// Counters every client adds to while the window is open.
#[derive(Default)]
struct Live {
    delivered: AtomicU64,
    measuring: AtomicBool,
    awareness_frames: AtomicU64,
    awareness_entries: AtomicU64,
}

/// What a reader hands back when stopped.
struct ReaderEnd {
    tally: Tally,
    text: Option<String>,
    error: Option<String>,
}

/// One writer, ready to go.
struct WriterSetup {
    index: usize,
    doc: usize,
    rate: f64,
    frames: Vec<Bytes>,
    final_text: String,
}

/// Runs `plan`.
pub async fn run(plan: SwarmPlan) -> Result<SwarmOutcome, JoinError> {
    // Edits first: one Yrs document per writer, single-character appends.
    let mut setups = Vec::new();
    let mut tracks = Vec::new();
    for (d, doc) in plan.docs.iter().enumerate() {
        for &rate in &doc.writer_rates {
            let index = setups.len();
            let client = 1_000_000 + index as u64 * 7919 + u64::from(rand_u32() % 1000);
            let edits = (rate * plan.duration.as_secs_f64()).round().max(1.0) as usize;
            let (updates, final_text) = crate::edits::appends(client, edits);
            let frames = updates
                .iter()
                .map(|u| plan.dialect.update(&doc.name, u, None))
                .collect();
            tracks.push((client, edits));
            setups.push(WriterSetup {
                index,
                doc: d,
                rate,
                frames,
                final_text,
            });
        }
    }
    let clocks = Arc::new(Clocks::new(tracks));
    let live = Arc::new(Live::default());
    let (stop_tx, stop_rx) = watch::channel(false);

    // Readers, then writers, each joined (synced) before any edit.
    let gate = Arc::new(Semaphore::new(128));
    let mut joins = JoinSet::new();
    for (d, doc) in plan.docs.iter().enumerate() {
        for r in 0..doc.readers {
            let url = match plan.reader_urls.len() {
                0 => plan.url.clone(),
                n => plan.reader_urls[r % n].clone(),
            };
            let (gate, url, name, dialect) = (gate.clone(), url, doc.name.clone(), plan.dialect);
            joins.spawn(async move {
                let _permit = gate.acquire_owned().await;
                join(dialect, &url, &name)
                    .await
                    .map(|(ws, state)| (d, r, ws, state))
            });
        }
    }
    let mut readers = Vec::new();
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok(r)) => readers.push(r),
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(JoinError::Refused {
                    doc: "?".into(),
                    reason: e.to_string(),
                });
            }
        }
    }
    let mut writer_socks = Vec::new();
    for s in &setups {
        let (ws, _) = join(plan.dialect, &plan.url, &plan.docs[s.doc].name).await?;
        writer_socks.push(ws);
    }

    let mut reader_tasks = JoinSet::new();
    let mut client_no = 0u32;
    for (d, _r, ws, state) in readers {
        let doc = &plan.docs[d];
        let writers: Vec<usize> = setups
            .iter()
            .filter(|s| s.doc == d)
            .map(|s| s.index)
            .collect();
        let tally = Tally::new(clocks.clone(), &writers);
        let presence = plan.presence.map(|p| p.client(client_no));
        client_no += 1;
        reader_tasks.spawn(read_loop(ReaderArgs {
            ws,
            dialect: plan.dialect,
            doc: doc.name.clone(),
            tally,
            verify: plan.verify.then(|| state_doc(&state)),
            presence,
            live: live.clone(),
            stop: stop_rx.clone(),
        }));
    }
    tokio::time::sleep(plan.settle).await;

    // The measured window.
    let server_cpu = plan.server.map(|pid| CpuWindow::start(Proc(Some(pid))));
    let own_cpu = CpuWindow::start(Proc(None));
    let t0 = Instant::now() + Duration::from_millis(20);
    live.measuring.store(true, Ordering::Relaxed);
    let mut writer_tasks = JoinSet::new();
    for (s, ws) in setups.iter().zip(writer_socks) {
        // Writers of many rooms start spread over one period, as independent users would.
        let phase = if setups.len() > 1 {
            Duration::from_secs_f64(f64::from(rand_u32() % 1000) / 1000.0 / s.rate)
        } else {
            Duration::ZERO
        };
        let presence = plan.presence.map(|p| p.client(client_no));
        client_no += 1;
        writer_tasks.spawn(write_loop(WriterArgs {
            ws,
            dialect: plan.dialect,
            doc: plan.docs[s.doc].name.clone(),
            index: s.index,
            rate: s.rate,
            frames: s.frames.clone(),
            start: t0 + phase,
            clocks: clocks.clone(),
            presence,
            live: live.clone(),
            stop: stop_rx.clone(),
        }));
    }
    let expected: u64 = plan
        .docs
        .iter()
        .enumerate()
        .map(|(d, doc)| {
            let edits: u64 = setups
                .iter()
                .filter(|s| s.doc == d)
                .map(|s| s.frames.len() as u64)
                .sum();
            edits * doc.readers as u64
        })
        .sum();
    let send_end = t0 + plan.duration + Duration::from_secs(1);
    let deadline = send_end + plan.drain;
    loop {
        let got = live.delivered.load(Ordering::Relaxed);
        if got >= expected && Instant::now() >= t0 + plan.duration {
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = t0.elapsed();
    live.measuring.store(false, Ordering::Relaxed);
    let server_cpu = server_cpu.and_then(|w| w.stop()).map(|u| (u.cpu_ns, u.pct));
    let loadgen_cpu_pct = own_cpu.stop().map(|u| u.pct);
    let server_rss_kb = plan.server.and_then(|pid| Proc(Some(pid)).rss_kb());

    let _ = stop_tx.send(true);
    let mut out = SwarmOutcome {
        expected,
        elapsed,
        server_cpu,
        loadgen_cpu_pct,
        server_rss_kb,
        awareness_frames: live.awareness_frames.load(Ordering::Relaxed),
        awareness_entries: live.awareness_entries.load(Ordering::Relaxed),
        ..SwarmOutcome::default()
    };
    while let Some(w) = writer_tasks.join_next().await {
        if let Ok(Some(e)) = w {
            out.errors.push(e);
        }
    }
    let mut texts = Vec::new();
    while let Some(r) = reader_tasks.join_next().await {
        let Ok(end) = r else { continue };
        out.delivered += end.tally.delivered;
        out.duplicates += end.tally.duplicates;
        out.frames += end.tally.frames;
        out.latency.merge(&end.tally.latency);
        if end.tally.unreadable > 0 {
            out.errors.push(format!(
                "{} updates could not be parsed",
                end.tally.unreadable
            ));
        }
        if let Some(e) = end.error {
            out.errors.push(e);
        }
        if let Some(t) = end.text {
            texts.push(t);
        }
    }
    if plan.verify {
        check_convergence(&plan, &setups, &texts, &mut out.errors).await;
    }
    out.errors.sort();
    out.errors.dedup();
    Ok(out)
}

/// A Yrs document holding `state` (a reader's initial sync).
fn state_doc(state: &[u8]) -> Doc {
    let doc = Doc::new();
    let _ = doc.get_or_insert_text("t");
    apply(&doc, state);
    doc
}

fn apply(doc: &Doc, update: &[u8]) {
    if let Ok(u) = Update::decode_v1(update) {
        let _ = doc.transact_mut().apply_update(u);
    }
}

fn text_of(doc: &Doc) -> String {
    let text = doc.get_or_insert_text("t");
    text.get_string(&doc.transact())
}

/// Verify mode: every reader holds the same text, and so does a client that joins
/// after the run; with one writer per document it is that writer's text.
async fn check_convergence(
    plan: &SwarmPlan,
    setups: &[WriterSetup],
    texts: &[String],
    errors: &mut Vec<String>,
) {
    for (d, doc) in plan.docs.iter().enumerate() {
        let mine: Vec<&WriterSetup> = setups.iter().filter(|s| s.doc == d).collect();
        let total: usize = mine.iter().map(|s| s.frames.len()).sum();
        let fresh = match join(plan.dialect, &plan.url, &doc.name).await {
            Ok((_ws, state)) => text_of(&state_doc(&state)),
            Err(e) => {
                errors.push(format!(
                    "verify: cannot join `{}` after the run: {e}",
                    doc.name
                ));
                continue;
            }
        };
        if fresh.encode_utf16().count() != total {
            errors.push(format!(
                "verify: `{}` holds {} characters after the run, expected {total}",
                doc.name,
                fresh.encode_utf16().count()
            ));
        }
        if let [only] = mine.as_slice()
            && fresh != only.final_text
        {
            errors.push(format!(
                "verify: `{}` differs from its writer's text",
                doc.name
            ));
        }
        // Readers of a single-document run all hold this document.
        if plan.docs.len() == 1 {
            let diverged = texts.iter().filter(|t| **t != fresh).count();
            if diverged > 0 {
                errors.push(format!(
                    "verify: {diverged} readers diverged from the server"
                ));
            }
        }
    }
}

/// A random u32 from the standard library's per-process random hasher seed.
pub fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}
