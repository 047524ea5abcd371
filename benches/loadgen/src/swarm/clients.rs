//! The client tasks of a swarm run: light readers that tally edits and answer the
//! server, and writers that send pre-generated edits on a fixed schedule.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use yrs::Doc;

use super::{Live, ReaderEnd, apply, text_of};
use crate::connect::Ws;
use crate::tally::{Clocks, Tally};
use crate::wire::{Dialect, Incoming};

pub(super) struct ReaderArgs {
    pub(super) ws: Ws,
    pub(super) dialect: Dialect,
    pub(super) doc: String,
    pub(super) tally: Tally,
    pub(super) verify: Option<Doc>,
    pub(super) presence: Option<crate::presence::PresenceClient>,
    pub(super) live: Arc<Live>,
    pub(super) stop: watch::Receiver<bool>,
}

/// A reader: tallies edits, answers the server, sends its own awareness if on.
pub(super) async fn read_loop(mut a: ReaderArgs) -> ReaderEnd {
    let mut scratch = Vec::new();
    let mut error = None;
    let far = Instant::now() + Duration::from_secs(86_400);
    let mut next_aw = a.presence.as_ref().map_or(far, |p| p.first_at());
    loop {
        tokio::select! {
            _ = a.stop.changed() => break,
            // Unpolled when presence is off, so it costs no timer registration.
            _ = tokio::time::sleep_until(next_aw), if a.presence.is_some() => {
                let Some(p) = a.presence.as_mut() else { next_aw = far; continue };
                let frame = a.dialect.awareness(&a.doc, &p.next_state());
                next_aw = p.next_at();
                if let Err(e) = a.ws.send(Message::Binary(frame)).await {
                    error = Some(format!("reader lost its socket sending awareness: {e}"));
                    break;
                }
            }
            msg = a.ws.next() => {
                let frame = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(c))) => {
                        error = Some(format!("reader closed by the server: {c:?}"));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => { error = Some(format!("reader socket error: {e}")); break; }
                    None => { error = Some("reader socket closed".into()); break; }
                };
                let reply = match a.dialect.classify(&frame, &mut scratch) {
                    Incoming::Update(u) => {
                        let new = a.tally.record(u);
                        if new > 0 {
                            a.live.delivered.fetch_add(new, Ordering::Relaxed);
                        }
                        if let Some(doc) = &a.verify {
                            apply(doc, u);
                        }
                        continue;
                    }
                    Incoming::Step2(u) => {
                        if let Some(doc) = &a.verify {
                            apply(doc, u);
                        }
                        continue;
                    }
                    Incoming::Awareness(entries) => {
                        if a.live.measuring.load(Ordering::Relaxed) {
                            a.live.awareness_frames.fetch_add(1, Ordering::Relaxed);
                            a.live.awareness_entries.fetch_add(entries as u64, Ordering::Relaxed);
                        }
                        continue;
                    }
                    Incoming::Step1 => a.dialect.step2_empty(&a.doc),
                    Incoming::Ping => a.dialect.pong(),
                    Incoming::Refused(reason) => {
                        error = Some(format!("reader refused: {reason}"));
                        continue;
                    }
                    Incoming::Ack(_) | Incoming::Other => continue,
                };
                if let Err(e) = a.ws.send(Message::Binary(reply)).await {
                    error = Some(format!("reader lost its socket: {e}"));
                    break;
                }
            }
        }
    }
    let text = a.verify.as_ref().map(text_of);
    ReaderEnd {
        tally: a.tally,
        text,
        error,
    }
}

pub(super) struct WriterArgs {
    pub(super) ws: Ws,
    pub(super) dialect: Dialect,
    pub(super) doc: String,
    pub(super) index: usize,
    pub(super) rate: f64,
    pub(super) frames: Vec<Bytes>,
    pub(super) start: Instant,
    pub(super) clocks: Arc<Clocks>,
    pub(super) presence: Option<crate::presence::PresenceClient>,
    pub(super) live: Arc<Live>,
    pub(super) stop: watch::Receiver<bool>,
}

/// A writer: sends its edits on schedule (edit `i` at `start + i / rate`; every
/// edit already due goes out in one flush), drains whatever the server sends it,
/// and keeps up its awareness if on. Returns an error message if it failed.
pub(super) async fn write_loop(a: WriterArgs) -> Option<String> {
    let WriterArgs {
        ws,
        dialect,
        doc,
        index,
        rate,
        frames,
        start,
        clocks,
        mut presence,
        live,
        mut stop,
    } = a;
    let (mut sink, mut stream) = ws.split();
    let drain = tokio::spawn(async move {
        // Echoes, status frames and others' awareness: read so the server never
        // blocks on us; count awareness like a reader does.
        let mut scratch = Vec::new();
        while let Some(Ok(msg)) = stream.next().await {
            if let Message::Close(c) = &msg {
                eprintln!("writer closed by the server: {c:?}");
            }
            if let Message::Binary(b) = msg
                && let Incoming::Awareness(n) = dialect.classify(&b, &mut scratch)
                && live.measuring.load(Ordering::Relaxed)
            {
                live.awareness_frames.fetch_add(1, Ordering::Relaxed);
                live.awareness_entries
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    });
    let period = 1.0 / rate;
    let due = |i: usize| start + Duration::from_secs_f64(i as f64 * period);
    let far = Instant::now() + Duration::from_secs(86_400);
    let mut next_aw = presence.as_ref().map_or(far, |p| p.first_at());
    let mut i = 0;
    let mut error = None;
    while i < frames.len() {
        tokio::select! {
            _ = tokio::time::sleep_until(due(i)) => {
                let now = Instant::now();
                while i < frames.len() && due(i) <= now {
                    clocks.mark_sent(index, i);
                    if let Err(e) = sink.feed(Message::Binary(frames[i].clone())).await {
                        error = Some(format!("writer lost its socket: {e}"));
                        break;
                    }
                    i += 1;
                }
                if error.is_none() && let Err(e) = sink.flush().await {
                    error = Some(format!("writer lost its socket: {e}"));
                }
                if error.is_some() { break; }
            }
            _ = tokio::time::sleep_until(next_aw), if presence.is_some() => {
                let Some(p) = presence.as_mut() else { next_aw = far; continue };
                let frame = dialect.awareness(&doc, &p.next_state());
                next_aw = p.next_at();
                if let Err(e) = sink.send(Message::Binary(frame)).await {
                    error = Some(format!("writer lost its socket: {e}"));
                    break;
                }
            }
        }
    }
    // Stay connected (the server may still be fanning out) until the run stops.
    let _ = stop.changed().await;
    drain.abort();
    error
}
