//! The y-websocket dialect (`/y/{doc}`): one document per socket, exactly the
//! y-websocket protocol, so unmodified `WebsocketProvider`s work.
//!
//! y-websocket has no error message. Bytes that break the framing close the socket
//! (1002), as do oversized frames (1009) and a document that cannot be loaded
//! (4503). A refused write (an update Yrs refuses, a document over its size limit,
//! a write the access policy forbids) is dropped and answered with the protocol's
//! permission-denied message, as the reference server does for read-only
//! connections; the socket stays open so the client does not reconnect and resend
//! the same content in a loop. The client's own updates are echoed back once
//! durable (v4 clients clear their pending state from the echo).

use std::sync::Arc;

use axum::extract::ws::Message;
use bytes::Bytes;
use goonline_engine::outbound::{Broadcast, Outbound};
use goonline_engine::{EngineError, Session};
use goonline_protocol::codes::close;
use goonline_protocol::lib0::write_var_bytes;
use goonline_protocol::ywebsocket::YwsMessage;

use super::auth::{AuthClock, SignInError, SocketAuth};
use super::{Dialect, Flow, SLOT_YWS, note_refused};
use goonline_engine::AccessChange;

/// An empty awareness update (zero entries): sent as keepalive traffic, because the
/// y-websocket client closes after 30 s without an application message.
const KEEPALIVE: [u8; 3] = [1, 1, 0];

/// State of one y-websocket connection.
pub(crate) struct YwsDialect {
    doc: String,
    /// The `?token=` of the upgrade request, used once at start.
    token: Option<String>,
    auth: Arc<SocketAuth>,
    clock: AuthClock,
}

impl YwsDialect {
    pub(crate) fn new(doc: String, token: Option<String>, auth: Arc<SocketAuth>) -> Self {
        YwsDialect {
            doc,
            token,
            auth,
            clock: AuthClock::default(),
        }
    }
}

/// Maps an engine error to the close it deserves on this dialect.
fn close_for(e: &EngineError) -> Flow {
    let code = match e {
        EngineError::InvalidUpdate(_) => close::PROTOCOL_ERROR,
        EngineError::FrameTooLarge { .. } | EngineError::DocTooLarge { .. } => {
            close::MESSAGE_TOO_BIG
        }
        EngineError::LoadFailed(_)
        | EngineError::ShuttingDown
        | EngineError::TooManyConnections(_) => close::UNAVAILABLE,
        EngineError::Forbidden(_) | EngineError::ReadOnly(_) => close::FORBIDDEN,
        EngineError::Unauthorized(_) => close::UNAUTHORIZED,
        EngineError::AccessUnavailable(_) => close::UNAVAILABLE,
        EngineError::InvalidDocName(_) | EngineError::TooManyDocs(_) => close::PROTOCOL_ERROR,
        EngineError::DocNotOpen(_) | EngineError::DocAlreadyOpen(_) => close::INTERNAL_ERROR,
        EngineError::Unavailable(_) => close::UNAVAILABLE,
        // Topics are native-only; these never reach a y-websocket session.
        EngineError::UnknownTopic(_)
        | EngineError::NotSubscribed(_)
        | EngineError::AlreadySubscribed(_)
        | EngineError::TooManySubscriptions(_)
        | EngineError::InvalidArgument(_) => close::PROTOCOL_ERROR,
    };
    Flow::Close(code, e.to_string())
}

fn update_frame(b: &Broadcast) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.payload.len() + 8);
    out.extend_from_slice(&[0, 2]);
    write_var_bytes(&mut out, &b.payload);
    out
}

impl Dialect for YwsDialect {
    async fn start(&mut self, session: &mut Session, _out: &mut Vec<Message>) -> Flow {
        if let Some(token) = self.token.take() {
            match self.auth.sign_in(session, &token).await {
                Ok(a) => self.clock.renewed(a.expires_at_ms),
                Err(e @ SignInError::Unauthorized(_)) => {
                    return Flow::Close(close::UNAUTHORIZED, e.message());
                }
                Err(e @ SignInError::TooManyConnections(_)) => {
                    return Flow::Close(close::TRY_AGAIN_LATER, e.message());
                }
            }
        }
        match session.open(&self.doc).await {
            Ok(_) => Flow::Continue,
            Err(e) => close_for(&e),
        }
    }

    async fn on_binary(
        &mut self,
        session: &mut Session,
        frame: Bytes,
        out: &mut Vec<Message>,
    ) -> Flow {
        let msg = match YwsMessage::decode(&frame) {
            Ok(m) => m,
            Err(e) => {
                return Flow::Close(
                    close::PROTOCOL_ERROR,
                    format!("undecodable y-websocket message: {e}"),
                );
            }
        };
        let result = match msg {
            YwsMessage::Sync(sync) => session.sync(&self.doc, sync, None),
            YwsMessage::Awareness(update) => session.awareness(&self.doc, update),
            YwsMessage::QueryAwareness => session.query_awareness(&self.doc),
            // Clients never send auth messages; ignore as the reference server does.
            YwsMessage::Auth { .. } => Ok(()),
        };
        match result {
            Ok(()) => Flow::Continue,
            // A refused write keeps the socket: closing would make the client
            // reconnect and resend the same content in its step 2, forever. It is
            // told with the protocol's permission-denied message (logged by the
            // client) and the document stays untouched.
            Err(
                e @ (EngineError::Forbidden(_)
                | EngineError::ReadOnly(_)
                | EngineError::InvalidUpdate(_)
                | EngineError::DocTooLarge { .. }
                | EngineError::FrameTooLarge { .. }),
            ) => {
                note_refused(session, &e);
                let reason = format!("{}: {e}", e.code());
                out.push(Message::Binary(Bytes::from(
                    YwsMessage::Auth {
                        denied_reason: &reason,
                    }
                    .to_vec(),
                )));
                Flow::Continue
            }
            Err(e) => close_for(&e),
        }
    }

    fn encode(&mut self, _member: u64, msg: Outbound, out: &mut Vec<Message>) {
        let frame = match msg {
            Outbound::Sync { data, .. } => {
                let mut f = Vec::with_capacity(data.len() + 1);
                f.push(0);
                f.extend_from_slice(&data);
                Bytes::from(f)
            }
            Outbound::Update(b) => b.frame(SLOT_YWS, update_frame),
            Outbound::Ack {
                update: Some(b), ..
            } => echo(&b),
            Outbound::Ack { update: None, .. } => return,
            Outbound::Awareness(b) => b.frame(SLOT_YWS, |b| {
                let mut f = Vec::with_capacity(b.payload.len() + 6);
                f.push(1);
                write_var_bytes(&mut f, &b.payload);
                f
            }),
            // Topics are native-only.
            Outbound::TopicEvent(_)
            | Outbound::TopicLatest(_)
            | Outbound::TopicGap { .. }
            | Outbound::TopicPresence(_) => return,
        };
        out.push(Message::Binary(frame));
    }

    fn heartbeat(&mut self, out: &mut Vec<Message>) {
        out.push(Message::Binary(Bytes::from_static(&KEEPALIVE)));
    }

    fn auth_clock(&mut self) -> Option<&mut AuthClock> {
        // y-websocket cannot be asked for a new token: at expiry plus the grace
        // the socket closes with 4401 and the client reconnects with a fresh one.
        Some(&mut self.clock)
    }

    fn on_access_changed(&mut self, changes: Vec<AccessChange>, _out: &mut Vec<Message>) -> Flow {
        match changes.into_iter().find(|c| c.grant.is_none()) {
            // The one document is gone: nothing is left to serve on this socket.
            Some(lost) => Flow::Close(close::FORBIDDEN, lost.reason),
            // Read-only now: its writes are refused with permission-denied.
            None => Flow::Continue,
        }
    }
}

/// The echo of a client's own update, sent as its acknowledgement.
fn echo(b: &Arc<Broadcast>) -> Bytes {
    b.frame(SLOT_YWS, update_frame)
}
