//! The native protocol spoken on `/v1/ws` by our SDK.
//!
//! Each binary WebSocket frame is exactly one MessagePack map with named fields
//! (rmp-serde's `to_vec_named`); its `type` field says which frame it is. The first
//! frame a client sends is `hello`, which carries the protocol version; the server
//! answers `welcome`. Document sync and awareness carry the y-protocols message bytes
//! unchanged (see [`crate::sync`] and [`crate::awareness`]), so any Yjs client library
//! can produce and consume them.
//!
//! `call`/`reply` (operations) and `sub`/`unsub`/`event`/`gap` (topics) are reserved
//! type names: later protocol versions add them without changing the frames here.
//! The full reference, with a worked byte example, is `docs/protocol.md`.

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;

/// The protocol version this crate speaks; sent in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Frame types that later versions will add; a client sending one today gets
/// `unknown_type`, not `bad_frame`.
pub const RESERVED_TYPES: &[&str] = &["call", "reply", "sub", "unsub", "event", "gap"];

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
        /// Access token; ignored until identity lands.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
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
    },
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

const KNOWN_CLIENT_TYPES: &[&str] = &["hello", "open", "close", "sync", "awareness", "ping"];

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
