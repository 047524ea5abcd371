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
//!
//! Memory: an idle connection should cost a few KB, so the task keeps little
//! between wake-ups. The socket is not split (the loop never reads and writes at
//! once, and a split puts the socket behind a second allocation); the long-lived
//! future holds only what an idle connection needs, and the large, short-lived
//! steps (the dialect's start, a write with its timeout, the close handshake) are
//! boxed for their duration; the frame buffer is freed after each write and the
//! queue's storage at each heartbeat.

pub(crate) mod auth;
pub mod hocuspocus;
pub mod native;
mod native_topics;
pub(crate) mod read_ahead;
mod socket_io;
pub mod ywebsocket;

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use goonline_engine::metrics::{Metrics, add, inc};
use goonline_engine::outbound::{Delivery, KillSwitch, Outbound, Receiver};
use goonline_engine::{AccessChange, EngineError, Session, SessionEvents, now_ms};
use goonline_protocol::codes::close;
use tokio_util::sync::CancellationToken;

use self::auth::{AuthClock, AuthDue};
use self::socket_io::{close_socket, write};
use crate::limits::FrameBudget;

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

/// Per-connection settings from the server config; one shared copy for all
/// connections.
pub(crate) struct ConnSettings {
    pub metrics: Arc<Metrics>,
    pub heartbeat: Duration,
    pub write_timeout: Duration,
    pub max_frame_bytes: usize,
    pub shutdown: CancellationToken,
    /// Frames a connection may send per second (bursts of twice that).
    pub frames_per_sec: u32,
    /// Time to present a new token after the current one expired.
    pub reauth_grace: Duration,
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
    /// The signed-in token's lifetime, for dialects that sign in.
    fn auth_clock(&mut self) -> Option<&mut AuthClock> {
        None
    }
    /// The token expired: ask the client for a fresh one by `deadline` (epoch
    /// ms), if the dialect has a way to.
    fn request_token(&mut self, _expires_at: i64, _deadline: i64, _out: &mut Vec<Message>) {}
    /// The session's access to open documents changed (role change, removal):
    /// tell the client in the dialect's terms.
    fn on_access_changed(&mut self, changes: Vec<AccessChange>, out: &mut Vec<Message>) -> Flow;
    /// Whether the dialect has work of its own to do between frames (a topic
    /// replay to continue).
    fn has_work(&self) -> bool {
        false
    }
    /// Does one step of that work (one replay page), writing into `out`; the
    /// loop writes it (paced by the socket) before the next step.
    fn work(
        &mut self,
        _session: &mut Session,
        _out: &mut Vec<Message>,
    ) -> impl Future<Output = Flow> + Send {
        std::future::ready(Flow::Continue)
    }
    /// The client sent a frame over its rate budget. Default: close 4430 (these
    /// dialects cannot refuse one frame and go on without losing it silently).
    fn on_rate_limited(&mut self, _out: &mut Vec<Message>) -> Flow {
        Flow::Close(
            close::RATE_LIMITED,
            "too many frames per second; slow down and reconnect".into(),
        )
    }
}

/// Drives one connection until it closes.
///
/// A plain function returning the future, so the connection's state is captured
/// once (an `async fn` keeps its arguments and its locals apart).
pub(crate) fn drive<D: Dialect>(
    socket: WebSocket,
    session: Session,
    events: SessionEvents,
    dialect: D,
    cfg: Arc<ConnSettings>,
) -> impl Future<Output = ()> + Send + 'static {
    let SessionEvents { rx, kill } = events;
    // A token of its own: waiting on the shared token would lock one mutex shared
    // by every connection on each wake-up (a child locks only its own node).
    let shutdown = cfg.shutdown.child_token();
    let mut conn = Conn {
        socket,
        rx,
        kill,
        shutdown,
        budget: FrameBudget::new(cfg.frames_per_sec),
        dialect,
        cfg,
        out: Vec::new(),
    };
    let mut session = session;
    async move {
        // Boxed: opening a document may wait on a store load, a large future needed
        // once.
        let close = match Box::pin(conn.start(&mut session)).await {
            Ok(()) => conn.run(&mut session).await,
            Err(close) => close,
        };
        // Leave the rooms before the close handshake so others see this client go
        // at once.
        drop(session);
        if let Some((code, reason)) = close {
            // Boxed: a close happens once; its timeout need not size the task.
            Box::pin(close_socket(&mut conn.socket, code, &reason)).await;
        }
    }
}

/// How the connection ends: the close to send, or `None` if the socket is gone.
type Close = Option<(u16, String)>;

/// What woke the connection loop.
enum Wake {
    Killed(u16, String),
    Shutdown,
    Frame(Option<Result<Message, axum::Error>>),
    Queued(Delivery),
    Heartbeat,
    Recheck,
    Work,
}

/// What the loop does after a wake-up was handled.
enum Step {
    /// Write what is in `out`, then go on or close.
    Write(Flow),
    /// Hand a binary frame to the dialect, then write.
    Binary(Bytes),
    /// Re-check access to open documents, then write.
    Recheck,
    /// Let the dialect do a step of its own work, then write.
    Work,
    /// End the connection.
    End(Close),
}

/// One connection's transport state.
struct Conn<D> {
    socket: WebSocket,
    rx: Receiver,
    kill: Arc<KillSwitch>,
    /// Fired when the server drains (a child of `cfg.shutdown`).
    shutdown: CancellationToken,
    dialect: D,
    cfg: Arc<ConnSettings>,
    /// The client's frame rate budget.
    budget: FrameBudget,
    /// Frames encoded since the last write; empty (and unallocated) between wake-ups.
    out: Vec<Message>,
}

impl<D: Dialect> Conn<D> {
    /// Runs the dialect's start and sends what it produced; `Err` ends the
    /// connection.
    async fn start(&mut self, session: &mut Session) -> Result<(), Close> {
        let flow = self.dialect.start(session, &mut self.out).await;
        self.send().await.map_err(|()| None)?;
        match flow {
            Flow::Continue => Ok(()),
            Flow::Close(code, reason) => Err(Some((code, reason))),
        }
    }

    /// The connection loop, until something ends the connection.
    async fn run(&mut self, session: &mut Session) -> Close {
        // A sleep re-armed after each tick (an `Interval` would box its own).
        let heartbeat = tokio::time::sleep(self.cfg.heartbeat);
        tokio::pin!(heartbeat);
        let mut last_seen = Instant::now();
        loop {
            // In a block of its own so the wake-up is gone before the awaits below
            // (the task's size is that of its largest suspended state).
            let step = {
                let wake = tokio::select! {
                    biased;
                    (code, reason) = self.kill.killed() => Wake::Killed(code, reason),
                    () = self.shutdown.cancelled() => Wake::Shutdown,
                    () = self.kill.recheck_requested() => Wake::Recheck,
                    frame = self.socket.next() => Wake::Frame(frame),
                    Some(msg) = self.rx.recv() => Wake::Queued(msg),
                    // After the heartbeat: a long replay must not hold back
                    // pings, token renewal and expiry checks.
                    () = &mut heartbeat => Wake::Heartbeat,
                    () = std::future::ready(()), if self.dialect.has_work() => Wake::Work,
                };
                self.handle(wake, heartbeat.as_mut(), &mut last_seen)
            };
            let flow = match step {
                Step::End(close) => return close,
                Step::Write(flow) => flow,
                Step::Work => {
                    // Boxed: a replay step awaits the store; the idle task
                    // should not be sized for it.
                    let flow = Box::pin(self.dialect.work(session, &mut self.out)).await;
                    self.encode_queued();
                    flow
                }
                Step::Recheck => {
                    let changes = session.recheck_access().await;
                    if changes.is_empty() {
                        Flow::Continue
                    } else {
                        self.dialect.on_access_changed(changes, &mut self.out)
                    }
                }
                Step::Binary(b) => {
                    let flow = self.dialect.on_binary(session, b, &mut self.out).await;
                    // A token accepted by this frame may expire before the next
                    // heartbeat: wake for it then.
                    if let Some(due) = self
                        .dialect
                        .auth_clock()
                        .and_then(|c| c.until_due(self.cfg.reauth_grace))
                    {
                        let at = tokio::time::Instant::now() + due + Duration::from_millis(5);
                        if at < heartbeat.deadline() {
                            heartbeat.as_mut().reset(at);
                        }
                    }
                    // Reads win the select, so a client streaming edits would
                    // otherwise never see its queue drained (its acks pile up until
                    // it is closed as a slow consumer): send what is queued with
                    // the answer to every frame.
                    self.encode_queued();
                    flow
                }
            };
            self.send().await.ok()?;
            if let Flow::Close(code, reason) = flow {
                return Some((code, reason));
            }
        }
    }

    /// Handles a wake-up that needs no await: encodes what is queued, checks and
    /// re-arms the heartbeat, sorts frames.
    fn handle(
        &mut self,
        wake: Wake,
        heartbeat: Pin<&mut tokio::time::Sleep>,
        last_seen: &mut Instant,
    ) -> Step {
        let metrics = &self.cfg.metrics;
        let flow = match wake {
            Wake::Killed(code, reason) => return Step::End(Some((code, reason))),
            Wake::Shutdown => {
                // Drain: whatever the engine queued (acks of flushed updates) goes
                // out before the going-away close.
                while let Ok(msg) = self.rx.try_recv() {
                    self.dialect.encode(msg.member, msg.msg, &mut self.out);
                }
                Flow::Close(close::GOING_AWAY, "server shutting down".to_string())
            }
            Wake::Frame(None | Some(Err(_))) => return Step::End(None),
            Wake::Recheck => return Step::Recheck,
            Wake::Work => return Step::Work,
            Wake::Frame(Some(Ok(_)))
                if self
                    .dialect
                    .auth_clock()
                    .is_some_and(|c| c.past_grace(now_ms(), self.cfg.reauth_grace)) =>
            {
                // Reads win the select, so a client that streams frames would
                // never let the heartbeat's check run.
                return Step::Write(Flow::Close(
                    close::UNAUTHORIZED,
                    "access token expired and no new one arrived in time".into(),
                ));
            }
            Wake::Frame(Some(Ok(Message::Binary(b)))) => {
                *last_seen = Instant::now();
                inc(&metrics.frames_in);
                add(&metrics.bytes_in, b.len() as u64);
                if !self.budget.take() {
                    inc(&metrics.protocol_errors);
                    return Step::Write(self.dialect.on_rate_limited(&mut self.out));
                }
                let limit = self.cfg.max_frame_bytes;
                if b.len() <= limit {
                    return Step::Binary(b);
                }
                inc(&metrics.protocol_errors);
                self.dialect.on_oversized(b.len(), limit, &mut self.out)
            }
            Wake::Frame(Some(Ok(Message::Text(_)))) => {
                *last_seen = Instant::now();
                if !self.budget.take() {
                    return Step::Write(self.dialect.on_rate_limited(&mut self.out));
                }
                inc(&metrics.protocol_errors);
                self.dialect.on_text(&mut self.out)
            }
            Wake::Frame(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {
                *last_seen = Instant::now();
                Flow::Continue
            }
            Wake::Frame(Some(Ok(Message::Close(_)))) => {
                return Step::End(Some((close::NORMAL, String::new())));
            }
            Wake::Queued(msg) => {
                self.dialect.encode(msg.member, msg.msg, &mut self.out);
                self.encode_queued();
                Flow::Continue
            }
            Wake::Heartbeat => {
                if last_seen.elapsed() > self.cfg.heartbeat * 3 {
                    return Step::End(Some((
                        close::TIMEOUT,
                        "no traffic from client within the idle timeout".to_string(),
                    )));
                }
                // Quiet for a heartbeat: give back the queue storage an earlier
                // burst grew, so a connection that was once busy idles small.
                self.rx.shrink();
                self.out.push(Message::Ping(Bytes::new()));
                self.dialect.heartbeat(&mut self.out);
                let grace = self.cfg.reauth_grace;
                let mut next = self.cfg.heartbeat;
                if let Some(clock) = self.dialect.auth_clock() {
                    match clock.due(now_ms(), grace) {
                        AuthDue::Nothing => {}
                        AuthDue::Ask {
                            expires_at,
                            deadline,
                        } => self
                            .dialect
                            .request_token(expires_at, deadline, &mut self.out),
                        AuthDue::Close => {
                            return Step::Write(Flow::Close(
                                close::UNAUTHORIZED,
                                "access token expired and no new one arrived in time".into(),
                            ));
                        }
                    }
                }
                // The timer also serves the token's clock: wake when it is due if
                // that is sooner than the next heartbeat.
                if let Some(due) = self.dialect.auth_clock().and_then(|c| c.until_due(grace)) {
                    next = next.min(due + Duration::from_millis(5));
                }
                heartbeat.reset(tokio::time::Instant::now() + next);
                Flow::Continue
            }
        };
        Step::Write(flow)
    }

    /// Encodes what is already queued, up to a batch, without waiting.
    fn encode_queued(&mut self) {
        for _ in 1..MAX_BATCH {
            match self.rx.try_recv() {
                Ok(msg) => self.dialect.encode(msg.member, msg.msg, &mut self.out),
                Err(_) => break,
            }
        }
    }

    /// Sends the frames in `out`, if any (see [`write`]).
    async fn send(&mut self) -> Result<(), ()> {
        if self.out.is_empty() {
            return Ok(());
        }
        // Taken, so an idle connection keeps no frame buffer; boxed, so the write's
        // timeout and sink futures exist only while a write is in progress.
        let frames = std::mem::take(&mut self.out);
        Box::pin(write(&mut self.socket, frames, &self.cfg, &self.kill)).await
    }
}

/// Counts a refused update in the metrics.
pub(crate) fn note_refused(session: &Session, e: &EngineError) {
    if matches!(
        e,
        EngineError::InvalidUpdate(_)
            | EngineError::DocTooLarge { .. }
            | EngineError::FrameTooLarge { .. }
            | EngineError::Forbidden(_)
            | EngineError::ReadOnly(_)
    ) {
        session
            .engine()
            .metrics()
            .updates_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
