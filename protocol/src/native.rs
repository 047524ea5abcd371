//! The native protocol spoken on `/v1/ws` by our SDK.
//!
//! Each binary WebSocket frame is exactly one MessagePack map with named fields
//! (rmp-serde's `to_vec_named`); its `type` field says which frame it is. The first
//! frame a client sends is `hello`, which carries the protocol version; the server
//! answers `welcome`. Document sync and awareness carry the y-protocols message bytes
//! unchanged (see [`crate::sync`] and [`crate::awareness`]), so any Yjs client library
//! can produce and consume them.
//!
//! `hello {token}` signs the connection in (or `auth {token}` later, e.g. when the
//! server asks for a fresh token with `reauth`); `call`/`reply` run operations, the
//! same ones REST serves. `sub`/`unsub` follow topics (ordered durable streams):
//! the server replays what the client missed as `event`s (or says `gap` when it no
//! longer has it), confirms with `subscribed` once live, and ends a subscription
//! it may no longer serve with `unsubscribed`. `presence` shares an ephemeral
//! state (typing, "who is here") with a topic's other subscribers.
//! The full reference, with a worked byte example, is `docs/protocol.md`.

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;

/// The protocol version this crate speaks; sent in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Frame types that later versions may add; a client sending one today gets
/// `unknown_type`, not `bad_frame`.
pub const RESERVED_TYPES: &[&str] = &[];

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame of every connection.
    Hello {
        /// Protocol version the client speaks ([`PROTOCOL_VERSION`]).
        version: u32,
        /// Free-form client name and version, for logs (`"@goonline/client 0.1.0"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        /// Access token. Without one the connection is anonymous: it may call
        /// public operations (sign-in) and present a token later with `auth`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Presents a (new) access token on a live connection: after signing in, or
    /// when the server sent `reauth`. Answered with `authenticated`, or an
    /// `error` (`unauthorized`) and close 4401.
    Auth {
        /// The access token.
        token: String,
    },
    /// Runs an operation; answered with `reply` carrying the same `id`.
    Call {
        /// Correlation id, echoed in the `reply`.
        id: u64,
        /// Operation name, e.g. `business.create`.
        method: String,
        /// The operation's params (a map); absent means none.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        params: serde_json::Value,
        /// Idempotency key for a state-changing call: a retry with the same key
        /// and params gets the first outcome instead of running again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
    },
    /// Join a document. The server answers with its `sync` step 1 and the current
    /// awareness, or an `error` whose `re` is this frame's `id`.
    Open {
        /// Document name.
        doc: String,
        /// Optional correlation id, echoed in an error's `re`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// Leave a document; the client's awareness states in it are removed.
    Close {
        /// Document name.
        doc: String,
    },
    /// A y-protocols sync message for an open document.
    Sync {
        /// Document name.
        doc: String,
        /// The y-protocols sync message bytes (step 1, step 2 or update).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        /// When set on a step 2 or update, the server sends `ack {doc, id}` once the
        /// update is durable (or `error {re: id}` if it was refused).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A y-protocols awareness update for an open document.
    Awareness {
        /// Document name.
        doc: String,
        /// The awareness update bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Follow a topic. The server replays every event after `since` (all it
    /// keeps when absent), then sends `subscribed` and live events, with no gap
    /// and no duplicate across the switch. An `error` whose `re` is `id` refuses it.
    Sub {
        /// Topic name, e.g. `biz/{business_id}/chat/{channel}`.
        topic: String,
        /// The last sequence number the client has; replay starts after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// Optional correlation id, echoed in an error's `re`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// Stop following a topic (and clear this connection's presence in it).
    Unsub {
        /// Topic name.
        topic: String,
    },
    /// Sets (or with `state: nil`, clears) this connection's ephemeral presence
    /// in a subscribed topic: typing, "who is here". Expires unless renewed.
    Presence {
        /// Topic name.
        topic: String,
        /// Any small value (at most 1 KiB encoded); nil clears.
        #[serde(default)]
        state: serde_json::Value,
    },
    /// Application-level heartbeat; answered with `pong` carrying the same `ts`.
    Ping {
        /// Any number the client wants back (typically its clock).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ts: Option<u64>,
    },
}

/// Limits the server enforces, announced in `welcome` so a client can stay inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest frame the server accepts, in bytes.
    pub max_frame_bytes: u64,
    /// Largest encoded document the server keeps, in bytes.
    pub max_doc_bytes: u64,
    /// Most documents one connection may have open at once.
    pub max_open_docs: u64,
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`.
    Welcome {
        /// Protocol version the server speaks for this connection.
        version: u32,
        /// This connection's session id (UUIDv7 text).
        session: String,
        /// Server name and version, e.g. `"goonline 0.1.0"`.
        server: String,
        /// The client should send something (at least a `ping`) this often; the server
        /// closes a connection silent for three intervals with 4408.
        heartbeat_ms: u64,
        /// The limits this server enforces.
        limits: Limits,
        /// The signed-in user, when `hello` carried a valid token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// When that token expires (epoch ms); expect `reauth` then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<u64>,
    },
    /// Answer to `auth`: the connection now acts as `user`.
    Authenticated {
        /// The user id.
        user: String,
        /// When the token expires (epoch ms).
        expires_at: u64,
    },
    /// The access token has expired (or is about to): send `auth` with a fresh
    /// one before `deadline` (epoch ms), or the connection is closed with 4401.
    Reauth {
        /// When the current token expires or expired (epoch ms).
        expires_at: u64,
        /// The last moment a new token is accepted (epoch ms).
        deadline: u64,
    },
    /// The answer to `call`: exactly one of `result` and `error`.
    Reply {
        /// The `call`'s id.
        id: u64,
        /// The operation's result.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<serde_json::Value>,
        /// Why the operation failed (the same body REST returns).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<CallError>,
    },
    /// What this connection may do with an open document changed (a role change
    /// or removal), or, on `open`, that the document is read-only. With
    /// `mode: "none"` the document has been closed by the server.
    Access {
        /// Document name.
        doc: String,
        /// `read_write`, `read_only` or `none`.
        mode: AccessMode,
        /// Why, for humans.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A y-protocols sync message for an open document.
    Sync {
        /// Document name.
        doc: String,
        /// The y-protocols sync message bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A y-protocols awareness update for an open document.
    Awareness {
        /// Document name.
        doc: String,
        /// The awareness update bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// The client's update with this `id` is durable: it survives a crash.
    Ack {
        /// Document name.
        doc: String,
        /// The `id` of the client's `sync` frame.
        id: u64,
    },
    /// One event of a subscribed topic, in sequence order.
    Event {
        /// Topic name.
        topic: String,
        /// The event's sequence number in its topic (1, 2, 3, ...; a latest-value
        /// topic may skip numbers).
        seq: u64,
        /// When it was appended (epoch ms).
        at: i64,
        /// The event (a map; its shape depends on the topic's kind).
        data: serde_json::Value,
    },
    /// Events `from..=to` of a topic are no longer kept (older than its
    /// retention): the client cannot get them, and should reload its state
    /// (e.g. a chat's history pages). Events after `to` follow.
    Gap {
        /// Topic name.
        topic: String,
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// The subscription is live: every event up to `seq` has been sent, and
    /// every later one will be.
    Subscribed {
        /// Topic name.
        topic: String,
        /// The last sequence number sent (0 when the topic has no events).
        seq: u64,
    },
    /// The server ended a subscription: access was revoked, or the topic is gone.
    Unsubscribed {
        /// Topic name.
        topic: String,
        /// Why, for humans.
        reason: String,
    },
    /// Presence in a subscribed topic changed: each entry is one connection's
    /// state (nil: it left or expired). On `subscribed` the current set follows.
    Presence {
        /// Topic name.
        topic: String,
        /// The changed entries.
        entries: Vec<PresenceEntry>,
    },
    /// Answer to `ping`.
    Pong {
        /// The `ts` of the `ping`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ts: Option<u64>,
    },
    /// Something the client sent was refused. The connection stays open unless a
    /// close follows.
    Error {
        /// Stable machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The `id` of the frame this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<u64>,
        /// The document concerned, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doc: Option<String>,
        /// The topic concerned, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
}

/// An operation's error, as in a REST error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallError {
    /// Stable machine code (`unauthorized`, `forbidden`, `not_found`,
    /// `invalid_argument`, `conflict`, `rate_limited`, `unavailable`, `internal`).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// For `invalid_argument`: the offending field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: seconds before a retry may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// One connection's presence in a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// Which connection (a number unique on its server node).
    pub client: u64,
    /// The signed-in user behind it.
    pub user: String,
    /// Its state; nil when it left or expired.
    #[serde(default)]
    pub state: serde_json::Value,
}

/// What a connection may do with an open document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// Read and change it.
    ReadWrite,
    /// Read it; changes are refused (`forbidden`).
    ReadOnly,
    /// No access: the server closed it.
    None,
}

/// Why a native frame could not be decoded, with enough context to answer it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct FrameError {
    /// `bad_frame` or `unknown_type`.
    pub code: ErrorCode,
    /// What was wrong, for humans.
    pub message: String,
    /// The frame's `id`, if one could be read.
    pub re: Option<u64>,
}

/// The two fields every frame may carry, read on the error path so the answer can
/// name the offending frame.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<u64>,
}

impl ClientFrame {
    /// Decodes one frame. Never panics: any input that is not a valid frame is a
    /// [`FrameError`] (`unknown_type` when the map is well formed but its `type` is
    /// not known, `bad_frame` otherwise).
    pub fn decode(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
        match rmp_serde::from_slice::<ClientFrame>(bytes) {
            Ok(frame) => Ok(frame),
            Err(err) => Err(match rmp_serde::from_slice::<Envelope>(bytes) {
                Ok(env) if !KNOWN_CLIENT_TYPES.contains(&env.kind.as_str()) => FrameError {
                    code: ErrorCode::UnknownType,
                    message: if RESERVED_TYPES.contains(&env.kind.as_str()) {
                        format!(
                            "frame type `{}` is not supported by this server yet",
                            env.kind
                        )
                    } else {
                        format!("unknown frame type `{}`", env.kind)
                    },
                    re: env.id,
                },
                Ok(env) => FrameError {
                    code: ErrorCode::BadFrame,
                    message: format!("malformed `{}` frame: {err}", env.kind),
                    re: env.id,
                },
                Err(_) => FrameError {
                    code: ErrorCode::BadFrame,
                    message: format!("not a MessagePack map with a `type` field: {err}"),
                    re: None,
                },
            }),
        }
    }

    /// Encodes this frame as a named MessagePack map.
    pub fn encode(&self) -> Vec<u8> {
        encode_named(self)
    }
}

const KNOWN_CLIENT_TYPES: &[&str] = &[
    "hello",
    "auth",
    "call",
    "open",
    "close",
    "sync",
    "awareness",
    "sub",
    "unsub",
    "presence",
    "ping",
];

impl ServerFrame {
    /// Encodes this frame as a named MessagePack map.
    pub fn encode(&self) -> Vec<u8> {
        encode_named(self)
    }

    /// Decodes a server frame (used by clients, tests and the load generator).
    pub fn decode(bytes: &[u8]) -> Result<ServerFrame, rmp_serde::decode::Error> {
        rmp_serde::from_slice(bytes)
    }
}

fn encode_named<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs into a Vec cannot fail: every field is a
    // string, integer, byte buffer or option of one.
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

/// Encodes a server `sync` frame without building a [`ServerFrame`] (and so without
/// copying `data`): the broadcast hot path encodes each update once per dialect.
pub fn encode_sync_frame(doc: &str, data: &[u8]) -> Vec<u8> {
    encode_doc_bytes_frame("sync", doc, data)
}

/// Encodes a server `event` frame from borrowed parts: topic fan-out encodes
/// each event once, and replay encodes without building a [`ServerFrame`].
pub fn encode_event_frame(topic: &str, seq: u64, at: i64, data: &serde_json::Value) -> Vec<u8> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        topic: &'a str,
        seq: u64,
        at: i64,
        data: &'a serde_json::Value,
    }
    let mut out = Vec::with_capacity(topic.len() + 64);
    // Writing to a Vec cannot fail; a JSON value always encodes.
    let _ = rmp_serde::encode::write_named(
        &mut out,
        &Borrowed {
            kind: "event",
            topic,
            seq,
            at,
            data,
        },
    );
    out
}

/// Encodes a server `awareness` frame without copying `data`.
pub fn encode_awareness_frame(doc: &str, data: &[u8]) -> Vec<u8> {
    encode_doc_bytes_frame("awareness", doc, data)
}

fn encode_doc_bytes_frame(kind: &'static str, doc: &str, data: &[u8]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        doc: &'a str,
        #[serde(with = "serde_bytes")]
        data: &'a [u8],
    }
    let mut out = Vec::with_capacity(data.len() + doc.len() + 32);
    // Writing to a Vec cannot fail.
    let _ = rmp_serde::encode::write_named(&mut out, &Borrowed { kind, doc, data });
    out
}
