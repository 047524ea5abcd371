//! The subscribers of `topics-fanout`: GoOnline's follow the channel (`sub`,
//! confirmed by `subscribed`); the floor's join its room (confirmed by the
//! empty step 2). Each then records every `event` in its [`Track`] until the
//! run stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use goonline_protocol::native::{ClientFrame, ServerFrame};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::client::{Native, frame};
use super::fanout::{FanoutPlan, Side};
use super::message::{Track, event_body};
use crate::connect::{Ws, join};
use crate::wire::Dialect;

/// Opens a native socket, follows `topic` and waits for `subscribed`; returns
/// the socket and the sequence number the subscription starts after.
async fn subscribe(url: &str, token: &str, topic: &str) -> Result<(Ws, u64), String> {
    let mut c = Native::open(url, Some(token))
        .await
        .map_err(|e| format!("subscriber hello: {e}"))?;
    c.ws.send(frame(&ClientFrame::Sub {
        topic: topic.into(),
        since: None,
        id: Some(1),
    }))
    .await
    .map_err(|e| format!("sub: {e}"))?;
    loop {
        match c.next().await.map_err(|e| format!("sub: {e}"))? {
            ServerFrame::Subscribed { seq, .. } => return Ok((c.ws, seq)),
            ServerFrame::Error { code, message, .. } => {
                return Err(format!("sub refused: {code:?}: {message}"));
            }
            _ => continue,
        }
    }
}

/// Connects and readies every reader; returns (socket, seq it starts after).
pub(super) async fn readers(plan: &FanoutPlan) -> Result<Vec<(Ws, u64)>, String> {
    let gate = Arc::new(Semaphore::new(64));
    let mut joins = JoinSet::new();
    for i in 0..plan.subscribers {
        let (gate, side) = (gate.clone(), plan.side.clone());
        let url = match plan.subscriber_urls.len() {
            0 => None,
            n => Some(plan.subscriber_urls[i % n].clone()),
        };
        joins.spawn(async move {
            let _permit = gate.acquire_owned().await;
            match side {
                Side::GoOnline(w) => {
                    let url = url.unwrap_or_else(|| w.url.clone());
                    subscribe(&url, &w.token, &w.topic).await
                }
                Side::Floor { base, room, .. } => join(Dialect::Yws, &base, &room)
                    .await
                    .map(|(ws, _)| (ws, 0))
                    .map_err(|e| e.to_string()),
            }
        });
    }
    let mut out = Vec::with_capacity(plan.subscribers);
    while let Some(r) = joins.join_next().await {
        out.push(r.map_err(|e| format!("join task failed: {e}"))??);
    }
    Ok(out)
}

/// A subscriber: records every event until stopped.
pub(super) async fn read_loop(
    mut ws: Ws,
    mut track: Track,
    base: Instant,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> (Track, Option<String>) {
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => return (track, None),
            msg = ws.next() => msg,
        };
        let bytes = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Close(c))) => {
                return (
                    track,
                    Some(format!("subscriber closed by the server: {c:?}")),
                );
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return (track, Some(format!("subscriber socket error: {e}"))),
            None => return (track, Some("subscriber socket closed".into())),
        };
        let now_ns = base.elapsed().as_nanos() as u64;
        let f = match ServerFrame::decode(&bytes) {
            Ok(f) => f,
            Err(e) => return (track, Some(format!("undecodable frame: {e}"))),
        };
        if let Some((seq, b)) = event_body(&f) {
            if track.event(seq, b, bytes.len(), now_ns) {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        match f {
            ServerFrame::Gap { from, to, .. } => {
                return (
                    track,
                    Some(format!("gap {from}..={to} in a live subscription")),
                );
            }
            ServerFrame::Unsubscribed { reason, .. } => {
                return (track, Some(format!("unsubscribed by the server: {reason}")));
            }
            ServerFrame::Error { code, message, .. } => {
                return (track, Some(format!("error frame: {code:?}: {message}")));
            }
            _ => {}
        }
    }
}
