//! WebSocket transport shared by the three dialects.
//!
//! One task per connection drives a [`Dialect`]: it reads frames and hands them to
//! the dialect (which calls the engine session), and drains the session's outbound
//! queue, encoding each engine message into the dialect's frames. Everything that is
//! queued when the task wakes is written with `feed` and sent with one `flush`, so a
//! busy connection costs one syscall per wake-up, not one per frame. The same loop
//! enforces the frame limit, the heartbeat and idle timeout, the write timeout (a
//! client that stops reading cannot pin the task), the engine's kill switch (slow
//! consumer) and drain on shutdown.

pub mod hocuspocus;
pub mod native;
pub mod ywebsocket;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use goonline_engine::metrics::{Metrics, add, inc};
use goonline_engine::outbound::{KillSwitch, Outbound};
use goonline_engine::{EngineError, Session, SessionEvents};
use goonline_protocol::codes::close;
use tokio_util::sync::CancellationToken;

/// Frames cached per broadcast, one slot per dialect (see `Broadcast::frame`).
pub(crate) const SLOT_NATIVE: usize = 0;
pub(crate) const SLOT_YWS: usize = 1;
pub(crate) const SLOT_HOCUS: usize = 2;

/// Most queued engine messages encoded in one wake-up before flushing.
const MAX_BATCH: usize = 512;

/// What a dialect tells the loop after handling input.
pub(crate) enum Flow {
    /// Keep going.
    Continue,
    /// Close the socket with this code and reason.
    Close(u16, String),
}

/// Per-connection settings from the server config.
#[derive(Clone)]
pub(crate) struct ConnSettings {
    pub metrics: Arc<Metrics>,
    pub heartbeat: Duration,
    pub write_timeout: Duration,
    pub max_frame_bytes: usize,
    pub shutdown: CancellationToken,
}

/// A wire dialect: decodes frames into session calls, encodes engine messages.
pub(crate) trait Dialect: Send + 'static {
    /// Runs once after the upgrade, before any frame is read.
    fn start(
        &mut self,
        session: &mut Session,
        out: &mut Vec<Message>,
    ) -> impl Future<Output = Flow> + Send;
    /// Handles one binary frame (already checked against the frame limit).
    fn on_binary(
        &mut self,
        session: &mut Session,
        frame: Bytes,
        out: &mut Vec<Message>,
    ) -> impl Future<Output = Flow> + Send;
    /// Handles a frame over the frame limit. Default: close 1009 (dialects without
    /// an error message cannot refuse one frame and go on).
    fn on_oversized(&mut self, size: usize, limit: usize, _out: &mut Vec<Message>) -> Flow {
        Flow::Close(
            close::MESSAGE_TOO_BIG,
            format!("frame of {size} bytes exceeds {limit}"),
        )
    }
    /// Handles a text frame. Default: close 1002 (every dialect is binary-only).
    fn on_text(&mut self, _out: &mut Vec<Message>) -> Flow {
        Flow::Close(
            close::PROTOCOL_ERROR,
            "text frames are not part of this protocol".into(),
        )
    }
    /// Encodes one engine message for membership `member` into zero or more frames.
    fn encode(&mut self, member: u64, msg: Outbound, out: &mut Vec<Message>);
    /// Adds the dialect's application-level keepalive, if it has one.
    fn heartbeat(&mut self, out: &mut Vec<Message>);
}

/// Drives one connection until it closes.
pub(crate) async fn drive<D: Dialect>(
    socket: WebSocket,
    mut session: Session,
    events: SessionEvents,
    mut dialect: D,
    cfg: ConnSettings,
) {
    let SessionEvents { mut rx, kill } = events;
    let (mut sink, mut stream) = socket.split();
    let mut out: Vec<Message> = Vec::with_capacity(8);
    let metrics = cfg.metrics.clone();

    let flow = dialect.start(&mut session, &mut out).await;
    if write(&mut sink, &mut out, &cfg, &kill).await.is_err() {
        return;
    }
    if let Flow::Close(code, reason) = flow {
        close_socket(&mut sink, code, &reason).await;
        return;
    }

    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + cfg.heartbeat, cfg.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();

    let (code, reason) = loop {
        tokio::select! {
            biased;
            (code, reason) = kill.killed() => break (code, reason),
            _ = cfg.shutdown.cancelled() => {
                // Drain: whatever the engine queued (acks of flushed updates) goes out
                // before the going-away close.
                while let Ok(msg) = rx.try_recv() {
                    dialect.encode(msg.member, msg.msg, &mut out);
                }
                if write(&mut sink, &mut out, &cfg, &kill).await.is_err() {
                    return;
                }
                break (close::GOING_AWAY, "server shutting down".to_string());
            }
            frame = stream.next() => {
                let flow = match frame {
                    None | Some(Err(_)) => return,
                    Some(Ok(Message::Binary(b))) => {
                        last_seen = Instant::now();
                        inc(&metrics.frames_in);
                        add(&metrics.bytes_in, b.len() as u64);
                        if b.len() > cfg.max_frame_bytes {
                            inc(&metrics.protocol_errors);
                            dialect.on_oversized(b.len(), cfg.max_frame_bytes, &mut out)
                        } else {
                            dialect.on_binary(&mut session, b, &mut out).await
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        last_seen = Instant::now();
                        inc(&metrics.protocol_errors);
                        dialect.on_text(&mut out)
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        last_seen = Instant::now();
                        Flow::Continue
                    }
                    Some(Ok(Message::Close(_))) => break (close::NORMAL, String::new()),
                };
                if write(&mut sink, &mut out, &cfg, &kill).await.is_err() {
                    return;
                }
                if let Flow::Close(code, reason) = flow {
                    break (code, reason);
                }
            }
            Some(msg) = rx.recv() => {
                dialect.encode(msg.member, msg.msg, &mut out);
                let mut n = 1;
                while n < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(msg) => dialect.encode(msg.member, msg.msg, &mut out),
                        Err(_) => break,
                    }
                    n += 1;
                }
                if write(&mut sink, &mut out, &cfg, &kill).await.is_err() {
                    return;
                }
            }
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > cfg.heartbeat * 3 {
                    break (close::TIMEOUT, "no traffic from client within the idle timeout".to_string());
                }
                out.push(Message::Ping(Bytes::new()));
                dialect.heartbeat(&mut out);
                if write(&mut sink, &mut out, &cfg, &kill).await.is_err() {
                    return;
                }
            }
        }
    };
    // Leave the rooms before the close handshake so others see this client go at once.
    drop(session);
    close_socket(&mut sink, code, &reason).await;
    let _ = stream;
}

/// Writes and flushes `frames` within the write timeout. A client that does not
/// read is closed as a slow consumer instead of holding the task forever.
async fn write(
    sink: &mut SplitSink<WebSocket, Message>,
    frames: &mut Vec<Message>,
    cfg: &ConnSettings,
    kill: &KillSwitch,
) -> Result<(), ()> {
    if frames.is_empty() {
        return Ok(());
    }
    let metrics = &cfg.metrics;
    let n = frames.len() as u64;
    let bytes: usize = frames
        .iter()
        .map(|m| match m {
            Message::Binary(b) => b.len(),
            _ => 0,
        })
        .sum();
    let send_all = async {
        for m in frames.drain(..) {
            sink.feed(m).await?;
        }
        sink.flush().await
    };
    // A session the engine killed (its queue overflowed while this write was
    // blocked) is dropped at once: waiting out the write timeout would only keep
    // its memory.
    let outcome = tokio::select! {
        r = tokio::time::timeout(cfg.write_timeout, send_all) => r,
        _ = kill.killed() => return Err(()),
    };
    match outcome {
        Ok(Ok(())) => {
            add(&metrics.frames_out, n);
            add(&metrics.bytes_out, bytes as u64);
            Ok(())
        }
        Ok(Err(_)) => Err(()),
        Err(_) => {
            metrics.slow_consumer_closes.fetch_add(1, Ordering::Relaxed);
            tracing::info!("closing connection: writes blocked past the write timeout");
            Err(())
        }
    }
}

/// Sends a close frame (reason truncated to the 123 bytes a close frame allows) and
/// closes the sink.
async fn close_socket(sink: &mut SplitSink<WebSocket, Message>, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..end].into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    })
    .await;
}

/// Counts a refused update in the metrics.
pub(crate) fn note_refused(session: &Session, e: &EngineError) {
    if matches!(
        e,
        EngineError::InvalidUpdate(_)
            | EngineError::DocTooLarge { .. }
            | EngineError::FrameTooLarge { .. }
            | EngineError::Forbidden(_)
    ) {
        session
            .engine()
            .metrics()
            .updates_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
