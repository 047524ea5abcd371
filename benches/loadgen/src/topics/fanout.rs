//! `topics-fanout`: one writer (or a few, round-robin) sends chat messages at a
//! fixed rate to a channel that N subscribers follow, each on its own socket;
//! every subscriber times every message and checks the sequence. The same run
//! against the floor has the same N readers in one room and the writers
//! relaying a same-sized frame.
//!
//! Order: set up (GoOnline: the channel, then N `sub`s each confirmed by
//! `subscribed`; floor: N joins each confirmed by the empty step 2), settle,
//! open the CPU windows, send message `i` at `start + i/rate`, wait until every
//! subscriber has every message (or the drain limit), close the windows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use goonline_protocol::native::{ServerFrame, encode_event_frame};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::client::{Native, call_frame};
use super::message::{Track, body, created_data};
use super::readers::{read_loop, readers};
use super::setup::World;
use crate::connect::{Ws, join};
use crate::histogram::Histogram;
use crate::procstat::{CpuWindow, Proc};
use crate::wire::Dialect;

/// Which server the run drives.
#[derive(Debug, Clone)]
pub enum Side {
    /// GoOnline: subscribers `sub` to the channel; the writer calls `chat.send`.
    GoOnline(World),
    /// The floor: readers join `room` at `base`; the writer relays a frame
    /// shaped like GoOnline's `event` for `topic` (a name of the same length).
    Floor {
        /// The floor's URL (`ws://H`).
        base: String,
        /// The room.
        room: String,
        /// The topic name written into the frames.
        topic: String,
    },
}

/// A run.
#[derive(Debug, Clone)]
pub struct FanoutPlan {
    /// The server.
    pub side: Side,
    /// Subscribers (readers).
    pub subscribers: usize,
    /// Messages per second, all writers together.
    pub rate: f64,
    /// Writer connections the messages are spread over (round-robin).
    pub writers: usize,
    /// Seconds of sending.
    pub duration: Duration,
    /// Characters per message body.
    pub body_bytes: usize,
    /// How long to wait after the last message for deliveries in flight.
    pub drain: Duration,
    /// The server process, for CPU and RSS.
    pub server: Option<u32>,
    /// GoOnline: where subscribers connect, round-robin (empty: the
    /// writer's node).
    pub subscriber_urls: Vec<String>,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct FanoutOutcome {
    /// Messages sent.
    pub messages: u64,
    /// Deliveries expected (messages × subscribers).
    pub expected: u64,
    /// First deliveries.
    pub delivered: u64,
    /// Repeated deliveries.
    pub duplicates: u64,
    /// Events whose seq was not the previous plus one.
    pub out_of_order: u64,
    /// Delivery latency (send → event at a subscriber).
    pub latency: Histogram,
    /// Mean bytes per delivered frame.
    pub frame_bytes: f64,
    /// GoOnline: `chat.send` call → reply at the writer.
    pub send_reply: Histogram,
    /// From the first send until everything arrived (or the drain gave up).
    pub elapsed: Duration,
    /// Server CPU (ns, % of a core) over the window.
    pub server_cpu: Option<(u64, f64)>,
    /// Load generator CPU, % of a core.
    pub loadgen_cpu_pct: Option<f64>,
    /// Server RSS at the end, kB.
    pub server_rss_kb: Option<u64>,
    /// Problems seen.
    pub errors: Vec<String>,
}

/// Writer `k` of `writers` sends messages `k, k + writers, …`, message `i` at
/// `start + i/rate`; every message already due in one flush. GoOnline:
/// `chat.send` calls whose replies a second task times (calls on one
/// connection run one at a time); floor: a second task drains what the floor
/// relays from the other writers.
async fn write_loop(
    plan: FanoutPlan,
    ws: Ws,
    base: Instant,
    start: Instant,
    messages: u64,
    (k, writers): (u64, u64),
) -> (Histogram, Vec<String>) {
    let (mut sink, mut stream) = ws.split();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..messages).map(|_| AtomicU64::new(0)).collect());
    let mine = (k..messages).step_by(writers as usize).count() as u64;
    let mut drain = None;
    let replies = match &plan.side {
        Side::GoOnline(_) => {
            let sent_at = sent_at.clone();
            Some(tokio::spawn(async move {
                let (mut hist, mut errors, mut got) = (Histogram::new(), Vec::new(), 0u64);
                while got < mine {
                    let Ok(Some(Ok(msg))) =
                        tokio::time::timeout(Duration::from_secs(30), stream.next()).await
                    else {
                        errors.push(format!("writer: {} replies missing", mine - got));
                        break;
                    };
                    let Message::Binary(b) = msg else { continue };
                    if let Ok(ServerFrame::Reply { id, error, .. }) = ServerFrame::decode(&b) {
                        got += 1;
                        let now = base.elapsed().as_nanos() as u64;
                        if let Some(t) = sent_at.get(id as usize) {
                            hist.record(now.saturating_sub(t.load(Ordering::Relaxed)) / 1000);
                        }
                        if let Some(e) = error {
                            errors.push(format!("chat.send refused: {}: {}", e.code, e.message));
                        }
                    }
                }
                (hist, errors)
            }))
        }
        Side::Floor { .. } => {
            drain = Some(tokio::spawn(async move {
                while let Some(Ok(_)) = stream.next().await {}
            }));
            None
        }
    };
    let mut errors = Vec::new();
    let mut i = k;
    while i < messages {
        let due = start + Duration::from_secs_f64(i as f64 / plan.rate);
        tokio::time::sleep_until(due).await;
        let now = Instant::now();
        while i < messages && start + Duration::from_secs_f64(i as f64 / plan.rate) <= now {
            let sent_ns = base.elapsed().as_nanos() as u64;
            sent_at[i as usize].store(sent_ns, Ordering::Relaxed);
            let text = body(i, sent_ns, plan.body_bytes);
            let msg = match &plan.side {
                Side::GoOnline(w) => call_frame(
                    i,
                    "chat.send",
                    json!({ "chat_id": w.chat_id, "client_id": format!("w-{i}"), "body": text }),
                ),
                Side::Floor { topic, .. } => {
                    let at = crate::topics::epoch_ms();
                    let data = created_data(i + 1, text, at);
                    Message::Binary(encode_event_frame(topic, i + 1, at, &data).into())
                }
            };
            if let Err(e) = sink.feed(msg).await {
                errors.push(format!("writer lost its socket: {e}"));
                break;
            }
            i += writers;
        }
        if let Err(e) = sink.flush().await {
            errors.push(format!("writer lost its socket: {e}"));
        }
        if !errors.is_empty() {
            break;
        }
    }
    if let Some(d) = drain {
        d.abort();
    }
    let mut hist = Histogram::new();
    if let Some(task) = replies {
        match task.await {
            Ok((h, e)) => {
                hist = h;
                errors.extend(e);
            }
            Err(e) => errors.push(format!("reply reader failed: {e}")),
        }
    }
    (hist, errors)
}

/// Runs `plan`.
pub async fn run(plan: FanoutPlan) -> Result<FanoutOutcome, String> {
    let messages = (plan.rate * plan.duration.as_secs_f64()).round().max(1.0) as u64;
    let joined = readers(&plan).await?;
    let mut writer_socks = Vec::new();
    for _ in 0..plan.writers.max(1) {
        writer_socks.push(match &plan.side {
            Side::GoOnline(w) => {
                Native::open(&w.url, Some(&w.token))
                    .await
                    .map_err(|e| format!("writer hello: {e}"))?
                    .ws
            }
            Side::Floor { base, room, .. } => {
                join(Dialect::Yws, base, room)
                    .await
                    .map_err(|e| e.to_string())?
                    .0
            }
        });
    }
    let base = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (ws, after) in joined {
        let mut track = Track::new(messages, Some(after));
        if matches!(plan.side, Side::Floor { .. }) && plan.writers > 1 {
            track = track.unordered();
        }
        tasks.spawn(read_loop(
            ws,
            track,
            base,
            delivered.clone(),
            stop_rx.clone(),
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let server_cpu = plan.server.map(|pid| CpuWindow::start(Proc(Some(pid))));
    let own_cpu = CpuWindow::start(Proc(None));
    let start = Instant::now() + Duration::from_millis(20);
    let count = writer_socks.len() as u64;
    let mut writers = JoinSet::new();
    for (k, ws) in writer_socks.into_iter().enumerate() {
        let k = (k as u64, count);
        writers.spawn(write_loop(plan.clone(), ws, base, start, messages, k));
    }
    let expected = messages * plan.subscribers as u64;
    let deadline = start + plan.duration + Duration::from_secs(1) + plan.drain;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut out = FanoutOutcome {
        messages,
        expected,
        elapsed: start.elapsed(),
        server_cpu: server_cpu.and_then(|w| w.stop()).map(|u| (u.cpu_ns, u.pct)),
        loadgen_cpu_pct: own_cpu.stop().map(|u| u.pct),
        server_rss_kb: plan.server.and_then(|pid| Proc(Some(pid)).rss_kb()),
        ..FanoutOutcome::default()
    };
    let _ = stop_tx.send(true);
    while let Some(w) = writers.join_next().await {
        match w {
            Ok((hist, errors)) => {
                out.send_reply.merge(&hist);
                out.errors.extend(errors);
            }
            Err(e) => out.errors.push(format!("writer failed: {e}")),
        }
    }
    let mut bytes = 0u64;
    let mut foreign = 0u64;
    while let Some(r) = tasks.join_next().await {
        let Ok((t, err)) = r else { continue };
        out.delivered += t.delivered;
        out.duplicates += t.duplicates;
        out.out_of_order += t.out_of_order;
        foreign += t.foreign;
        bytes += t.bytes;
        out.latency.merge(&t.latency);
        if let Some(e) = err {
            out.errors.push(e);
        }
    }
    out.frame_bytes = bytes as f64 / (out.delivered + out.duplicates).max(1) as f64;
    if foreign > 0 {
        out.errors.push(format!(
            "{foreign} events that were not this run's messages"
        ));
    }
    summarize_errors(&mut out.errors);
    Ok(out)
}

/// Sorts errors and folds repeats into "N× message".
pub fn summarize_errors(errors: &mut Vec<String>) {
    errors.sort();
    let mut folded: Vec<(usize, String)> = Vec::new();
    for e in errors.drain(..) {
        match folded.last_mut() {
            Some((n, last)) if *last == e => *n += 1,
            _ => folded.push((1, e)),
        }
    }
    errors.extend(
        folded
            .into_iter()
            .map(|(n, e)| if n > 1 { format!("{n}× {e}") } else { e }),
    );
}
