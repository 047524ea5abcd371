//! The native dialect (`/v1/ws`): MessagePack frames, see `docs/protocol.md`.
//!
//! The first frame must be `hello` with a supported version (and, to sign in, a
//! token); after `welcome`, every frame maps to one session call or operation.
//! Problems with a single frame are answered with an `error` frame naming the
//! offending frame's `id`, and the connection goes on; only a broken handshake
//! closes it (4400), or a token that is refused (4401).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::ws::Message;
use bytes::Bytes;
use goonline_engine::access::Grant;
use goonline_engine::outbound::Outbound;
use goonline_engine::{AccessChange, AccessTarget, EngineError, Session};
use goonline_protocol::codes::{ErrorCode, close};
use goonline_protocol::native::{
    self, AccessMode, ClientFrame, Limits, PROTOCOL_VERSION, ServerFrame,
};
use goonline_protocol::sync::{SyncMessage, encode_update};

use super::auth::{AuthClock, SignInError, SocketAuth};
use super::native_topics::TopicState;
use super::{Dialect, Flow, SLOT_NATIVE, note_refused};

/// State of one native connection.
pub(crate) struct NativeDialect {
    greeted: bool,
    heartbeat_ms: u64,
    limits: Limits,
    auth: Arc<SocketAuth>,
    ip: Option<IpAddr>,
    clock: AuthClock,
    topics: TopicState,
}

impl NativeDialect {
    pub(crate) fn new(
        heartbeat_ms: u64,
        limits: Limits,
        auth: Arc<SocketAuth>,
        ip: Option<IpAddr>,
    ) -> Self {
        NativeDialect {
            greeted: false,
            heartbeat_ms,
            limits,
            auth,
            ip,
            clock: AuthClock::default(),
            topics: TopicState::default(),
        }
    }

    /// Signs the session in with `token`; on refusal queues the error frame and
    /// returns the close to end the connection with.
    async fn sign_in(
        &mut self,
        session: &mut Session,
        token: &str,
        out: &mut Vec<Message>,
    ) -> Result<(String, u64), Flow> {
        match self.auth.sign_in(session, token).await {
            Ok(a) => {
                self.clock.renewed(a.expires_at_ms);
                Ok((a.user.id, a.expires_at_ms.max(0) as u64))
            }
            Err(e) => {
                let (code, close_code) = match e {
                    SignInError::Unauthorized(_) => (ErrorCode::Unauthorized, close::UNAUTHORIZED),
                    SignInError::TooManyConnections(_) => {
                        (ErrorCode::RateLimited, close::TRY_AGAIN_LATER)
                    }
                };
                let msg = e.message();
                out.push(error_frame(code, msg.clone(), None, None));
                Err(Flow::Close(close_code, msg))
            }
        }
    }
}

/// A server frame as a binary message.
pub(super) fn server_frame(f: &ServerFrame) -> Message {
    Message::Binary(Bytes::from(f.encode()))
}

fn access_mode(grant: Option<Grant>) -> AccessMode {
    match grant {
        Some(Grant::ReadWrite) => AccessMode::ReadWrite,
        Some(Grant::ReadOnly) => AccessMode::ReadOnly,
        None => AccessMode::None,
    }
}

fn error_frame(
    code: ErrorCode,
    message: impl Into<String>,
    re: Option<u64>,
    doc: Option<&str>,
) -> Message {
    let frame = ServerFrame::Error {
        code,
        message: message.into(),
        re,
        doc: doc.map(str::to_string),
        topic: None,
    };
    Message::Binary(Bytes::from(frame.encode()))
}

fn engine_error(e: &EngineError, re: Option<u64>, doc: &str) -> Message {
    error_frame(e.code(), e.to_string(), re, Some(doc))
}

impl Dialect for NativeDialect {
    async fn start(&mut self, _session: &mut Session, _out: &mut Vec<Message>) -> Flow {
        Flow::Continue
    }

    async fn on_binary(
        &mut self,
        session: &mut Session,
        frame: Bytes,
        out: &mut Vec<Message>,
    ) -> Flow {
        let frame = match ClientFrame::decode(&frame) {
            Ok(f) => f,
            Err(e) => {
                session
                    .engine()
                    .metrics()
                    .protocol_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                out.push(error_frame(e.code, e.message, e.re, None));
                if !self.greeted {
                    // Without a handshake there is no session to keep alive.
                    return Flow::Close(
                        close::NATIVE_PROTOCOL_VIOLATION,
                        "the first frame must be `hello`".into(),
                    );
                }
                return Flow::Continue;
            }
        };
        if !self.greeted {
            return match frame {
                ClientFrame::Hello { version, token, .. } if version == PROTOCOL_VERSION => {
                    let (user, expires_at) = match token {
                        Some(t) => match self.sign_in(session, &t, out).await {
                            Ok((u, e)) => (Some(u), Some(e)),
                            Err(close) => return close,
                        },
                        None => (None, None),
                    };
                    self.greeted = true;
                    let welcome = ServerFrame::Welcome {
                        version: PROTOCOL_VERSION,
                        session: session.id().to_string(),
                        server: concat!("goonline ", env!("CARGO_PKG_VERSION")).to_string(),
                        heartbeat_ms: self.heartbeat_ms,
                        limits: self.limits,
                        user,
                        expires_at,
                    };
                    out.push(Message::Binary(Bytes::from(welcome.encode())));
                    Flow::Continue
                }
                ClientFrame::Hello { version, .. } => {
                    let msg = format!(
                        "protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}"
                    );
                    out.push(error_frame(
                        ErrorCode::UnsupportedVersion,
                        msg.clone(),
                        None,
                        None,
                    ));
                    Flow::Close(close::NATIVE_PROTOCOL_VIOLATION, msg)
                }
                _ => {
                    let msg = "the first frame must be `hello`";
                    out.push(error_frame(ErrorCode::HelloRequired, msg, None, None));
                    Flow::Close(close::NATIVE_PROTOCOL_VIOLATION, msg.to_string())
                }
            };
        }
        match frame {
            ClientFrame::Hello { .. } => {
                out.push(error_frame(
                    ErrorCode::HelloRequired,
                    "`hello` was already received",
                    None,
                    None,
                ));
            }
            ClientFrame::Auth { token } => match self.sign_in(session, &token, out).await {
                Ok((user, expires_at)) => {
                    out.push(server_frame(&ServerFrame::Authenticated {
                        user,
                        expires_at,
                    }));
                    // Documents opened anonymously (or before a role change) are
                    // re-checked for the signed-in user.
                    let changes = session.recheck_access().await;
                    return self.on_access_changed(changes, out);
                }
                Err(close) => return close,
            },
            ClientFrame::Call {
                id,
                method,
                params,
                idempotency_key,
            } => {
                let outcome = self
                    .auth
                    .call(
                        session,
                        self.ip,
                        &method,
                        params,
                        idempotency_key.as_deref(),
                    )
                    .await;
                let (result, error) = match outcome {
                    Ok(v) => (Some(v), None),
                    Err(e) => (None, Some(e)),
                };
                out.push(server_frame(&ServerFrame::Reply { id, result, error }));
            }
            ClientFrame::Open { doc, id } => match session.open(&doc).await {
                Ok(_) => {
                    if session.grant(&doc) == Some(Grant::ReadOnly) {
                        out.push(server_frame(&ServerFrame::Access {
                            doc,
                            mode: AccessMode::ReadOnly,
                            reason: Some("your role allows reading only".into()),
                        }));
                    }
                }
                Err(e) => out.push(engine_error(&e, id, &doc)),
            },
            ClientFrame::Close { doc } => {
                if let Err(e) = session.close_doc(&doc) {
                    out.push(engine_error(&e, None, &doc));
                }
            }
            ClientFrame::Sync { doc, data, id } => {
                let result = match SyncMessage::decode_all(&data) {
                    Ok(msg) => session.sync(&doc, msg, id),
                    Err(e) => {
                        if session.is_open(&doc) {
                            Err(EngineError::InvalidUpdate(format!(
                                "sync message does not decode: {e}"
                            )))
                        } else {
                            Err(EngineError::DocNotOpen(doc.clone()))
                        }
                    }
                };
                if let Err(e) = result {
                    note_refused(session, &e);
                    out.push(engine_error(&e, id, &doc));
                }
            }
            ClientFrame::Awareness { doc, data } => {
                if let Err(e) = session.awareness(&doc, &data) {
                    out.push(engine_error(&e, None, &doc));
                }
            }
            ClientFrame::Sub { topic, since, id } => {
                self.topics.sub(session, topic, since, id, out).await;
            }
            ClientFrame::Unsub { topic } => self.topics.unsub(session, &topic, out),
            ClientFrame::Presence { topic, state } => {
                self.topics.presence(session, &topic, state, out);
            }
            ClientFrame::Ping { ts } => {
                out.push(Message::Binary(Bytes::from(
                    ServerFrame::Pong { ts }.encode(),
                )));
            }
        }
        Flow::Continue
    }

    fn on_oversized(&mut self, size: usize, limit: usize, out: &mut Vec<Message>) -> Flow {
        // The frame is dropped whole; the connection goes on.
        out.push(error_frame(
            ErrorCode::FrameTooLarge,
            format!("frame of {size} bytes exceeds the limit of {limit} bytes"),
            None,
            None,
        ));
        Flow::Continue
    }

    fn on_text(&mut self, out: &mut Vec<Message>) -> Flow {
        out.push(error_frame(
            ErrorCode::BadFrame,
            "text frames are not accepted; send binary MessagePack",
            None,
            None,
        ));
        Flow::Continue
    }

    fn encode(&mut self, member: u64, msg: Outbound, out: &mut Vec<Message>) {
        let frame = match msg {
            msg @ (Outbound::TopicEvent(_)
            | Outbound::TopicLatest(_)
            | Outbound::TopicGap { .. }
            | Outbound::TopicPresence(_)) => return self.topics.encode(member, msg, out),
            Outbound::Sync { doc, data } => Bytes::from(native::encode_sync_frame(&doc, &data)),
            Outbound::Update(b) => b.frame(SLOT_NATIVE, |b| {
                let mut sync = Vec::with_capacity(b.payload.len() + 6);
                encode_update(&b.payload, &mut sync);
                native::encode_sync_frame(&b.doc, &sync)
            }),
            Outbound::Awareness(b) => b.frame(SLOT_NATIVE, |b| {
                native::encode_awareness_frame(&b.doc, &b.payload)
            }),
            Outbound::Ack {
                doc, id: Some(id), ..
            } => Bytes::from(
                ServerFrame::Ack {
                    doc: doc.to_string(),
                    id,
                }
                .encode(),
            ),
            Outbound::Ack { id: None, .. } => return,
        };
        out.push(Message::Binary(frame));
    }

    fn heartbeat(&mut self, _out: &mut Vec<Message>) {
        // Native clients ping us; the transport's WebSocket ping covers the rest.
    }

    fn auth_clock(&mut self) -> Option<&mut AuthClock> {
        Some(&mut self.clock)
    }

    fn request_token(&mut self, expires_at: i64, deadline: i64, out: &mut Vec<Message>) {
        out.push(server_frame(&ServerFrame::Reauth {
            expires_at: expires_at.max(0) as u64,
            deadline: deadline.max(0) as u64,
        }));
    }

    fn on_access_changed(&mut self, changes: Vec<AccessChange>, out: &mut Vec<Message>) -> Flow {
        for c in changes {
            if c.target == AccessTarget::Topic {
                self.topics.ended(&c.key, c.reason, out);
                continue;
            }
            out.push(server_frame(&ServerFrame::Access {
                doc: c.key.to_string(),
                mode: access_mode(c.grant),
                reason: Some(c.reason),
            }));
        }
        Flow::Continue
    }

    fn has_work(&self) -> bool {
        self.topics.replaying()
    }

    async fn work(&mut self, session: &mut Session, out: &mut Vec<Message>) -> Flow {
        self.topics.step(session, out).await;
        Flow::Continue
    }

    fn on_rate_limited(&mut self, out: &mut Vec<Message>) -> Flow {
        // The frame is dropped; the client is told, and may resend after a pause.
        out.push(error_frame(
            ErrorCode::RateLimited,
            "too many frames per second; this frame was dropped",
            None,
            None,
        ));
        Flow::Continue
    }
}
