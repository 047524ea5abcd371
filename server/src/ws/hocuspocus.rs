//! The Hocuspocus dialect (`/hocuspocus`): many documents over one socket, each
//! frame prefixed with its document's address, in-band auth per document.
//!
//! Facts about the real provider are in `docs/hocuspocus-notes.md`. In short: a
//! document is opened by its Auth Token frame, whose token signs the socket in
//! (every document on one socket acts as the same user), and answered
//! Authenticated with scope `read-write` or `readonly` (viewers), or
//! PermissionDenied with the reason; frames for a document that arrive before its auth are queued (bounded,
//! as the reference server does) and replayed after it; every SyncStep2/Update is
//! answered with SyncStatus once durable (1) or at once if refused (0); replies use
//! the address exactly as the client sent it (a session-aware provider routes by
//! the full `name\0session` address).

use std::collections::HashMap;

use axum::extract::ws::Message;
use bytes::Bytes;
use goonline_engine::outbound::{Broadcast, Outbound};
use goonline_engine::{EngineError, Session};
use goonline_protocol::codes::close;
use goonline_protocol::hocuspocus::{HocusAuth, HocusFrame, HocusMessage, address_doc_name};
use goonline_protocol::lib0::{DecodeError, write_var_string};
use goonline_protocol::sync::{SyncMessage, encode_update};

use std::sync::Arc;

use goonline_engine::AccessChange;
use goonline_engine::access::Grant;

use super::auth::{AuthClock, SocketAuth};
use super::{Dialect, Flow, SLOT_HOCUS, note_refused};

/// Longest address accepted: a document name, `\0`, and a provider session id
/// (the providers send a UUID).
const MAX_ADDRESS_BYTES: usize = goonline_engine::session::MAX_DOC_NAME_BYTES + 1 + 128;

/// Most bytes queued for documents whose auth has not arrived yet.
const MAX_QUEUED_BYTES: usize = 5 * 1024 * 1024;
/// Most frames queued for documents whose auth has not arrived yet.
const MAX_QUEUED_FRAMES: usize = 1000;
/// Most documents waiting for their auth at once.
const MAX_UNAUTHENTICATED: usize = 100;

/// State of one Hocuspocus connection.
pub(crate) struct HocusDialect {
    auth: Arc<SocketAuth>,
    clock: AuthClock,
    /// Open memberships: member id → the address the client uses for it. The
    /// address is also the membership's key in the session.
    addresses: HashMap<u64, String>,
    /// Frames for documents not yet authenticated, by address.
    queued: HashMap<String, Vec<Bytes>>,
    queued_bytes: usize,
    queued_frames: usize,
}

impl HocusDialect {
    pub(crate) fn new(auth: Arc<SocketAuth>) -> Self {
        HocusDialect {
            auth,
            clock: AuthClock::default(),
            addresses: HashMap::new(),
            queued: HashMap::new(),
            queued_bytes: 0,
            queued_frames: 0,
        }
    }
}

fn denied(address: &str, reason: &str) -> Message {
    frame_for(
        address,
        HocusMessage::Auth(HocusAuth::PermissionDenied { reason }),
    )
}

fn frame_for(address: &str, message: HocusMessage<'_>) -> Message {
    Message::Binary(Bytes::from(HocusFrame::Doc { address, message }.to_vec()))
}

impl HocusDialect {
    /// Handles one decoded document frame for an authenticated document.
    fn on_doc_message(
        &mut self,
        session: &mut Session,
        address: &str,
        message: HocusMessage<'_>,
        out: &mut Vec<Message>,
    ) -> Flow {
        let doc = address_doc_name(address);
        match message {
            HocusMessage::Sync(sync) | HocusMessage::SyncReply(sync) => {
                let is_write = matches!(sync, SyncMessage::Step2(_) | SyncMessage::Update(_));
                if let Err(e) = session.sync(address, sync, None) {
                    note_refused(session, &e);
                    tracing::debug!(doc, error = %e, "hocuspocus sync refused");
                    if is_write {
                        out.push(frame_for(address, HocusMessage::SyncStatus(false)));
                    }
                }
            }
            HocusMessage::Awareness(update) => {
                if let Err(e) = session.awareness(address, update) {
                    tracing::debug!(doc, error = %e, "hocuspocus awareness refused");
                }
            }
            HocusMessage::QueryAwareness => {
                let _ = session.query_awareness(address);
            }
            HocusMessage::Close { .. } => {
                let _ = session.close_doc(address);
                self.addresses.retain(|_, a| a != address);
            }
            HocusMessage::BroadcastStateless(_) => {
                // Server-only type: drop this document's connection, as the reference
                // server does, and say why.
                let _ = session.close_doc(address);
                self.addresses.retain(|_, a| a != address);
                out.push(frame_for(
                    address,
                    HocusMessage::Close {
                        reason: Some("broadcast_stateless is server-only"),
                    },
                ));
            }
            HocusMessage::Stateless(_) | HocusMessage::SyncStatus(_) => {
                // No stateless hooks yet; SyncStatus is server-to-client only.
            }
            HocusMessage::Auth(_) => {}
        }
        Flow::Continue
    }

    async fn authenticate(
        &mut self,
        session: &mut Session,
        address: &str,
        token: &str,
        out: &mut Vec<Message>,
    ) -> Flow {
        let doc = address_doc_name(address);
        // A provider without a token sends "": the document is opened anonymously
        // (and refused unless anonymous documents are allowed).
        if !token.is_empty() {
            match self.auth.sign_in(session, token).await {
                Ok(a) => self.clock.renewed(a.expires_at_ms),
                Err(e) => {
                    let code = match e {
                        super::auth::SignInError::Unauthorized(_) => "unauthorized",
                        super::auth::SignInError::TooManyConnections(_) => "rate_limited",
                    };
                    let reason = format!("{code}: {}", e.message());
                    if session.is_open(address) {
                        // A refused token refresh ends that document's connection.
                        let _ = session.close_doc(address);
                        self.addresses.retain(|_, a| a != address);
                    }
                    out.push(denied(address, &reason));
                    self.drop_queue(address);
                    return Flow::Continue;
                }
            }
        }
        if session.is_open(address) {
            // A token refresh on an open document.
            let read_only = session.grant(address) == Some(Grant::ReadOnly);
            out.push(frame_for(
                address,
                HocusMessage::Auth(HocusAuth::authenticated(read_only)),
            ));
            return Flow::Continue;
        }
        // Open first, so "authenticated" is only said for a document we serve. The
        // engine queues its greeting; this answer is written before that queue is
        // drained, so the provider sees Authenticated first.
        match session.open_as(address, doc).await {
            Ok(member) => {
                self.addresses.insert(member, address.to_string());
                let read_only = session.grant(address) == Some(Grant::ReadOnly);
                out.push(frame_for(
                    address,
                    HocusMessage::Auth(HocusAuth::authenticated(read_only)),
                ));
            }
            Err(e @ (EngineError::LoadFailed(_) | EngineError::ShuttingDown)) => {
                // Transient: closing makes the provider reconnect with backoff.
                return Flow::Close(close::UNAVAILABLE, e.to_string());
            }
            Err(e) => {
                let reason = format!("{}: {e}", e.code());
                out.push(frame_for(
                    address,
                    HocusMessage::Auth(HocusAuth::PermissionDenied { reason: &reason }),
                ));
                self.drop_queue(address);
                return Flow::Continue;
            }
        }
        // Replay what arrived before the auth, in order.
        if let Some(frames) = self.queued.remove(address) {
            for f in frames {
                self.queued_frames -= 1;
                self.queued_bytes -= f.len();
                if let Ok(HocusFrame::Doc { address, message }) = HocusFrame::decode(&f)
                    && let Flow::Close(c, r) = self.on_doc_message(session, address, message, out)
                {
                    return Flow::Close(c, r);
                }
            }
        }
        Flow::Continue
    }

    fn drop_queue(&mut self, address: &str) {
        if let Some(frames) = self.queued.remove(address) {
            self.queued_frames -= frames.len();
            self.queued_bytes -= frames.iter().map(Bytes::len).sum::<usize>();
        }
    }

    fn address_of(&self, member: u64) -> Option<&str> {
        self.addresses.get(&member).map(String::as_str)
    }
}

impl Dialect for HocusDialect {
    async fn start(&mut self, _session: &mut Session, _out: &mut Vec<Message>) -> Flow {
        Flow::Continue
    }

    async fn on_binary(
        &mut self,
        session: &mut Session,
        frame: Bytes,
        out: &mut Vec<Message>,
    ) -> Flow {
        let decoded = match HocusFrame::decode(&frame) {
            Ok(f) => f,
            Err(DecodeError::UnknownMessageType { value, .. }) => {
                // The reference server and provider log and ignore unknown types.
                tracing::debug!(value, "ignoring hocuspocus message of unknown type");
                return Flow::Continue;
            }
            Err(e) => {
                return Flow::Close(
                    close::PROTOCOL_ERROR,
                    format!("undecodable hocuspocus frame: {e}"),
                );
            }
        };
        let (address, message) = match decoded {
            HocusFrame::Ping => {
                out.push(Message::Binary(Bytes::from(HocusFrame::Pong.to_vec())));
                return Flow::Continue;
            }
            HocusFrame::Pong => return Flow::Continue,
            HocusFrame::Doc { address, message } => (address, message),
        };
        if address.len() > MAX_ADDRESS_BYTES {
            // Every address is kept per membership and every broadcast is
            // re-encoded for it: an unbounded one would let one socket make the
            // server hold and copy megabytes per document.
            return Flow::Close(
                close::PROTOCOL_ERROR,
                format!("a document address is at most {MAX_ADDRESS_BYTES} bytes"),
            );
        }
        if let HocusMessage::Auth(HocusAuth::Token { token, .. }) = message {
            return self.authenticate(session, address, token, out).await;
        }
        if session.is_open(address) {
            return self.on_doc_message(session, address, message, out);
        }
        if matches!(message, HocusMessage::Close { .. }) {
            self.drop_queue(address);
            return Flow::Continue;
        }
        // Not authenticated yet: queue, within bounds.
        if !self.queued.contains_key(address) && self.queued.len() >= MAX_UNAUTHENTICATED
            || self.queued_frames >= MAX_QUEUED_FRAMES
            || self.queued_bytes + frame.len() > MAX_QUEUED_BYTES
        {
            return Flow::Close(
                close::RESET,
                "too much traffic for documents that were never authenticated".into(),
            );
        }
        self.queued_frames += 1;
        self.queued_bytes += frame.len();
        let address = address.to_string();
        self.queued.entry(address).or_default().push(frame);
        Flow::Continue
    }

    fn encode(&mut self, member: u64, msg: Outbound, out: &mut Vec<Message>) {
        let frame = match msg {
            Outbound::Sync { data, .. } => {
                let Some(address) = self.address_of(member) else {
                    return;
                };
                let Ok(sync) = SyncMessage::decode_all(&data) else {
                    return;
                };
                frame_for(address, HocusMessage::Sync(sync))
            }
            Outbound::Update(b) => {
                let Some(address) = self.address_of(member) else {
                    return;
                };
                if *address == *b.doc {
                    Message::Binary(b.frame(SLOT_HOCUS, |b| update_frame(&b.doc, b)))
                } else {
                    Message::Binary(Bytes::from(update_frame(address, &b)))
                }
            }
            Outbound::Awareness(b) => {
                let Some(address) = self.address_of(member) else {
                    return;
                };
                let encode = |addr: &str, b: &Broadcast| {
                    HocusFrame::Doc {
                        address: addr,
                        message: HocusMessage::Awareness(&b.payload),
                    }
                    .to_vec()
                };
                if *address == *b.doc {
                    Message::Binary(b.frame(SLOT_HOCUS, |b| encode(&b.doc, b)))
                } else {
                    Message::Binary(Bytes::from(encode(address, &b)))
                }
            }
            Outbound::Ack { .. } => {
                let Some(address) = self.address_of(member) else {
                    return;
                };
                frame_for(address, HocusMessage::SyncStatus(true))
            }
            // Topics are native-only.
            Outbound::TopicEvent(_)
            | Outbound::TopicLatest(_)
            | Outbound::TopicGap { .. }
            | Outbound::TopicPresence(_) => return,
        };
        out.push(frame);
    }

    fn heartbeat(&mut self, out: &mut Vec<Message>) {
        // The provider answers a bare Ping with Pong, and counts it as traffic.
        out.push(Message::Binary(Bytes::from(HocusFrame::Ping.to_vec())));
    }

    fn auth_clock(&mut self) -> Option<&mut AuthClock> {
        Some(&mut self.clock)
    }

    fn request_token(&mut self, _expires_at: i64, _deadline: i64, out: &mut Vec<Message>) {
        // The provider answers a token request with a fresh Token frame for that
        // document, which `authenticate` takes as a refresh.
        for address in self.addresses.values() {
            out.push(frame_for(
                address,
                HocusMessage::Auth(HocusAuth::TokenRequest),
            ));
        }
    }

    fn on_access_changed(&mut self, changes: Vec<AccessChange>, out: &mut Vec<Message>) -> Flow {
        for c in changes {
            match c.grant {
                Some(grant) => out.push(frame_for(
                    &c.key,
                    HocusMessage::Auth(HocusAuth::authenticated(grant == Grant::ReadOnly)),
                )),
                None => {
                    self.addresses.retain(|_, a| **a != *c.key);
                    out.push(denied(&c.key, &format!("forbidden: {}", c.reason)));
                }
            }
        }
        Flow::Continue
    }
}

fn update_frame(address: &str, b: &Broadcast) -> Vec<u8> {
    let mut out = Vec::with_capacity(address.len() + b.payload.len() + 12);
    write_var_string(&mut out, address);
    out.push(0); // Sync
    encode_update(&b.payload, &mut out);
    out
}
