//! Durable write throughput: writers that each keep a window of updates in flight
//! on the native dialect, counting the server's `ack`s (sent only once an update
//! is committed to the store). Each writer has its own document, so the server's
//! group commit sees many documents at once, as it would with many users.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::connect::join;
use crate::histogram::Histogram;
use crate::procstat::{CpuWindow, Proc};
use crate::wire::{Dialect, Incoming};

/// What a durable run measured.
#[derive(Debug, Default)]
pub struct DurableOutcome {
    /// Acks received inside the window.
    pub acked: u64,
    /// The window.
    pub elapsed: Duration,
    /// Send → ack latency.
    pub latency: Histogram,
    /// Server CPU (ns, % of a core).
    pub server_cpu: Option<(u64, f64)>,
    /// Load generator CPU, % of a core.
    pub loadgen_cpu_pct: Option<f64>,
    /// Problems seen.
    pub errors: Vec<String>,
}

/// `n` single-character appends by a fresh client, as native `sync` frames with
/// ids 0..n asking for acks.
pub fn acked_frames(doc: &str, n: usize) -> Vec<bytes::Bytes> {
    let client = u64::from(crate::swarm::rand_u32()) + 1;
    let (updates, _) = crate::edits::appends(client, n);
    updates
        .iter()
        .enumerate()
        .map(|(i, update)| Dialect::Native.update(doc, update, Some(i as u64)))
        .collect()
}

/// Sends `frames` on a native socket to `doc` keeping at most `window` unacked,
/// until they run out or `until`. Returns the acks received before `until`, the
/// send → ack latency of every ack, and an error if something failed. Waits (up to
/// 30 s) for the acks of everything sent, so the server is quiet afterwards.
pub async fn send_acked(
    url: &str,
    doc: &str,
    frames: Vec<bytes::Bytes>,
    window: usize,
    until: Instant,
) -> (u64, Histogram, Option<String>) {
    let ws = match join(Dialect::Native, url, doc).await {
        Ok((ws, _)) => ws,
        Err(e) => return (0, Histogram::new(), Some(e.to_string())),
    };
    let (mut sink, mut stream) = ws.split();
    let credits = Arc::new(Semaphore::new(window));
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..frames.len()).map(|_| AtomicU64::new(0)).collect());
    let sent = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let base = Instant::now();
    let receiver = {
        let (credits, sent_at, sent, done) =
            (credits.clone(), sent_at.clone(), sent.clone(), done.clone());
        tokio::spawn(async move {
            let mut hist = Histogram::new();
            let (mut in_window, mut acked) = (0u64, 0usize);
            let mut finished = false;
            let mut scratch = Vec::new();
            let give_up = until + Duration::from_secs(30);
            loop {
                if finished && acked >= sent.load(Ordering::Acquire) {
                    return (in_window, hist, None);
                }
                let msg = tokio::select! {
                    _ = done.notified() => { finished = true; continue }
                    _ = tokio::time::sleep_until(give_up) => {
                        let missing = sent.load(Ordering::Acquire).saturating_sub(acked);
                        return (in_window, hist, Some(format!("{missing} acks missing 30 s after the run")));
                    }
                    msg = stream.next() => msg,
                };
                let frame = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(_)) => continue,
                    _ => {
                        return (
                            in_window,
                            hist,
                            Some("socket closed before every ack".into()),
                        );
                    }
                };
                match Dialect::Native.classify(&frame, &mut scratch) {
                    Incoming::Ack(id) => {
                        let now_us = base.elapsed().as_micros() as u64;
                        acked += 1;
                        if Instant::now() <= until {
                            in_window += 1;
                        }
                        if let Some(t) = sent_at.get(id as usize) {
                            hist.record(now_us.saturating_sub(t.load(Ordering::Relaxed)));
                        }
                        credits.add_permits(1);
                    }
                    Incoming::Refused(e) => {
                        return (in_window, hist, Some(format!("update refused: {e}")));
                    }
                    _ => {}
                }
            }
        })
    };
    let mut frames = frames.into_iter().enumerate().peekable();
    let mut error = None;
    while frames.peek().is_some() && Instant::now() < until {
        // Wait for one credit, then send as many as the window allows in one flush.
        let Ok(first) = tokio::time::timeout_at(until, credits.acquire()).await else {
            break;
        };
        let Ok(first) = first else { break };
        first.forget();
        let mut burst = 1 + credits.available_permits();
        if let Ok(more) = credits.try_acquire_many((burst - 1) as u32) {
            more.forget();
        } else {
            burst = 1;
        }
        for _ in 0..burst {
            let Some((i, frame)) = frames.next() else {
                credits.add_permits(1);
                continue;
            };
            sent_at[i].store(base.elapsed().as_micros() as u64, Ordering::Relaxed);
            sent.fetch_add(1, Ordering::Release);
            if let Err(e) = sink.feed(Message::Binary(frame)).await {
                error = Some(format!("writer lost its socket: {e}"));
                break;
            }
        }
        if error.is_none()
            && let Err(e) = sink.flush().await
        {
            error = Some(format!("writer lost its socket: {e}"));
        }
        if error.is_some() {
            break;
        }
    }
    done.notify_one();
    let (acked, hist, rx_error) = receiver
        .await
        .unwrap_or_else(|e| (0, Histogram::new(), Some(format!("ack reader failed: {e}"))));
    (acked, hist, error.or(rx_error))
}

/// Runs `writers` writers against the native endpoint `url` for `duration`.
pub async fn run(
    url: &str,
    prefix: &str,
    writers: usize,
    window: usize,
    per_writer: usize,
    duration: Duration,
    server: Option<u32>,
) -> DurableOutcome {
    let batches: Vec<Vec<bytes::Bytes>> = (0..writers)
        .map(|w| acked_frames(&format!("{prefix}-{w}"), per_writer))
        .collect();
    let server_cpu = server.map(|pid| CpuWindow::start(Proc(Some(pid))));
    let own_cpu = CpuWindow::start(Proc(None));
    let start = Instant::now();
    let until = start + duration;
    let mut tasks = JoinSet::new();
    for (w, frames) in batches.into_iter().enumerate() {
        let (url, doc) = (url.to_string(), format!("{prefix}-{w}"));
        tasks.spawn(async move { send_acked(&url, &doc, frames, window, until).await });
    }
    let mut out = DurableOutcome::default();
    // CPU over the measured window only, not the stragglers' acks after it.
    tokio::time::sleep_until(until).await;
    out.server_cpu = server_cpu.and_then(|w| w.stop()).map(|u| (u.cpu_ns, u.pct));
    out.loadgen_cpu_pct = own_cpu.stop().map(|u| u.pct);
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok((acked, hist, err)) => {
                out.acked += acked;
                out.latency.merge(&hist);
                if let Some(e) = err {
                    out.errors.push(e);
                }
            }
            Err(e) => out.errors.push(format!("writer task failed: {e}")),
        }
    }
    out.elapsed = duration;
    if out.acked > 0 && out.errors.is_empty() && out.acked as usize >= writers * per_writer {
        out.errors.push(format!(
            "writers ran out of prepared updates ({per_writer} each): raise --per-writer"
        ));
    }
    out.errors.sort();
    out.errors.dedup();
    out
}
