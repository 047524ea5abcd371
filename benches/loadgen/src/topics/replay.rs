//! `topics-replay`: how fast a channel's stored history reaches a client that
//! comes back, through the socket (`sub {topic, since: 0}`: every `event`,
//! then `subscribed`) and through the REST door (`GET
//! /api/topics/{topic}/events?after=N&limit=500`, page after page on one
//! kept-alive connection). Both read the same events from the same store in
//! the same server, so their ratio is what each door costs per event.
//!
//! Both clients decode everything they receive (MessagePack frames, JSON
//! pages) and check that the sequence numbers are 1, 2, 3, … exactly once.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use goonline_protocol::native::{ClientFrame, ServerFrame};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::client::{Native, frame};
use super::http::{Http, segment};
use super::setup::World;
use crate::procstat::{CpuWindow, Proc};

/// What one replay measured.
#[derive(Debug, Default)]
pub struct ReplayOutcome {
    /// Events received in order.
    pub events: u64,
    /// Bytes received: event frames (socket) or response bodies (REST).
    pub bytes: u64,
    /// From the request until the last event (socket: `subscribed`).
    pub elapsed: Duration,
    /// REST pages fetched.
    pub pages: u64,
    /// Events out of order, repeated or skipped.
    pub out_of_order: u64,
    /// Server CPU (ns, % of a core) during the replay.
    pub server_cpu: Option<(u64, f64)>,
    /// Load generator CPU, % of a core.
    pub loadgen_cpu_pct: Option<f64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

fn windows(server: Option<u32>) -> (Option<CpuWindow>, CpuWindow) {
    (
        server.map(|pid| CpuWindow::start(Proc(Some(pid)))),
        CpuWindow::start(Proc(None)),
    )
}

/// Replays the whole topic through a fresh socket (tungstenite's default
/// 128 KiB buffers, as a real client would have).
pub async fn socket(w: &World, expected: u64, server: Option<u32>) -> ReplayOutcome {
    let mut out = ReplayOutcome::default();
    let config = WebSocketConfig::default().max_message_size(Some(64 << 20));
    let ws = match tokio_tungstenite::connect_async_with_config(&w.url, Some(config), true).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            out.error = Some(format!("cannot connect: {e}"));
            return out;
        }
    };
    let mut c = match Native::hello(ws, Some(&w.token)).await {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("hello: {e}"));
            return out;
        }
    };
    let (server_cpu, own_cpu) = windows(server);
    let t0 = Instant::now();
    let sub = frame(&ClientFrame::Sub {
        topic: w.topic.clone(),
        since: Some(0),
        id: Some(1),
    });
    if let Err(e) = c.ws.send(sub).await {
        out.error = Some(format!("sub: {e}"));
        return out;
    }
    let mut last = 0u64;
    let give_up = t0 + Duration::from_secs(600);
    loop {
        let msg = match tokio::time::timeout_at(give_up, c.ws.next()).await {
            Ok(m) => m,
            Err(_) => {
                out.error = Some(format!(
                    "no `subscribed` within 600 s ({} events)",
                    out.events
                ));
                break;
            }
        };
        let bytes = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Close(c))) => {
                out.error = Some(format!("closed by the server: {c:?}"));
                break;
            }
            Some(Ok(_)) => continue,
            other => {
                out.error = Some(format!("socket lost: {other:?}"));
                break;
            }
        };
        match ServerFrame::decode(&bytes) {
            Ok(ServerFrame::Event { seq, .. }) => {
                out.bytes += bytes.len() as u64;
                if seq == last + 1 {
                    out.events += 1;
                } else {
                    out.out_of_order += 1;
                }
                last = seq;
            }
            Ok(ServerFrame::Subscribed { seq, .. }) => {
                if seq != expected {
                    out.error = Some(format!("subscribed at seq {seq}, expected {expected}"));
                }
                break;
            }
            Ok(ServerFrame::Gap { from, to, .. }) => {
                out.error = Some(format!("gap {from}..={to}"));
                break;
            }
            Ok(ServerFrame::Error { code, message, .. }) => {
                out.error = Some(format!("{code:?}: {message}"));
                break;
            }
            Ok(ServerFrame::Unsubscribed { reason, .. }) => {
                out.error = Some(format!("unsubscribed: {reason}"));
                break;
            }
            Ok(_) => {}
            Err(e) => {
                out.error = Some(format!("undecodable frame: {e}"));
                break;
            }
        }
    }
    finish(&mut out, t0, server_cpu, own_cpu, expected);
    out
}

/// Pages through the whole topic over REST, `limit` events a page.
pub async fn rest(
    w: &World,
    http_addr: &str,
    expected: u64,
    limit: u32,
    server: Option<u32>,
) -> ReplayOutcome {
    let mut out = ReplayOutcome::default();
    let mut http = Http::new(http_addr);
    let path = format!("/api/topics/{}/events", segment(&w.topic));
    let (server_cpu, own_cpu) = windows(server);
    let t0 = Instant::now();
    let (mut after, mut last) = (0u64, 0u64);
    loop {
        let resp = match http
            .get(&format!("{path}?after={after}&limit={limit}"), &w.token)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                out.error = Some(format!("GET after={after}: {e}"));
                break;
            }
        };
        out.pages += 1;
        out.bytes += resp.body.len() as u64;
        let page: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) if resp.status == 200 => v,
            _ => {
                out.error = Some(format!(
                    "GET after={after}: HTTP {}: {}",
                    resp.status,
                    String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)])
                ));
                break;
            }
        };
        for e in page["events"].as_array().map_or(&[][..], Vec::as_slice) {
            let seq = e["seq"].as_u64().unwrap_or(0);
            if seq == last + 1 {
                out.events += 1;
            } else {
                out.out_of_order += 1;
            }
            last = seq;
        }
        if page.get("gap").is_some_and(|g| !g.is_null()) {
            out.error = Some(format!("gap in the page after {after}: {}", page["gap"]));
            break;
        }
        let next = page["next_after"].as_u64().unwrap_or(after);
        if !page["more"].as_bool().unwrap_or(false) {
            break;
        }
        if next <= after {
            out.error = Some(format!("next_after {next} does not move past {after}"));
            break;
        }
        after = next;
    }
    finish(&mut out, t0, server_cpu, own_cpu, expected);
    out
}

fn finish(
    out: &mut ReplayOutcome,
    t0: Instant,
    server_cpu: Option<CpuWindow>,
    own_cpu: CpuWindow,
    expected: u64,
) {
    out.elapsed = t0.elapsed();
    out.server_cpu = server_cpu.and_then(|w| w.stop()).map(|u| (u.cpu_ns, u.pct));
    out.loadgen_cpu_pct = own_cpu.stop().map(|u| u.pct);
    if out.error.is_none() && (out.events != expected || out.out_of_order > 0) {
        out.error = Some(format!(
            "{} of {expected} events in order, {} out of order",
            out.events, out.out_of_order
        ));
    }
}
