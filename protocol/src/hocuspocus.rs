//! The Hocuspocus framing (`@hocuspocus/provider` 4.8, `@hocuspocus/server` 4.7):
//! many documents multiplexed over one WebSocket.
//!
//! A document frame is `varString(address), varUint(type), body`. The address is
//! the document name, or `docName + "\0" + sessionId` when the provider enables
//! `sessionAwareness`; the provider routes replies by exact address match, so the
//! server must answer with the address exactly as received (see
//! [`address_doc_name`] for the document part). Two frames have no address: Ping
//! `[9]` and Pong `[10]`, recognised only as one-byte frames (a document frame
//! starting with byte 9 is an address of 9 bytes).
//!
//! | type | message            | body                                                  |
//! |------|--------------------|-------------------------------------------------------|
//! | 0    | Sync               | y-protocols sync message ([`crate::sync`])            |
//! | 1    | Awareness          | varByteArray(awareness update)                        |
//! | 2    | Auth               | varUint sub-type, then see [`HocusAuth`]              |
//! | 3    | QueryAwareness     | empty                                                 |
//! | 4    | SyncReply          | sync message; server-to-server only                   |
//! | 5    | Stateless          | varString payload                                     |
//! | 6    | BroadcastStateless | varString payload; server-internal, refuse from users |
//! | 7    | Close              | client: empty; server: varString reason               |
//! | 8    | SyncStatus         | varUint 1 (applied) or 0 (refused)                    |
//!
//! `docs/hocuspocus-notes.md` records the exchange order and the byte layouts as
//! read from the packages' source.

use crate::lib0::{DecodeError, Reader, write_var_bytes, write_var_string, write_var_uint};
use crate::sync::SyncMessage;

/// Message type of Sync.
pub const MSG_SYNC: u64 = 0;
/// Message type of Awareness.
pub const MSG_AWARENESS: u64 = 1;
/// Message type of Auth.
pub const MSG_AUTH: u64 = 2;
/// Message type of QueryAwareness.
pub const MSG_QUERY_AWARENESS: u64 = 3;
/// Message type of SyncReply.
pub const MSG_SYNC_REPLY: u64 = 4;
/// Message type of Stateless.
pub const MSG_STATELESS: u64 = 5;
/// Message type of BroadcastStateless.
pub const MSG_BROADCAST_STATELESS: u64 = 6;
/// Message type of Close.
pub const MSG_CLOSE: u64 = 7;
/// Message type of SyncStatus.
pub const MSG_SYNC_STATUS: u64 = 8;
/// Type byte of the bare Ping frame.
pub const MSG_PING: u64 = 9;
/// Type byte of the bare Pong frame.
pub const MSG_PONG: u64 = 10;

/// Auth sub-type Token (client: token; server with no body: token request).
pub const AUTH_TOKEN: u64 = 0;
/// Auth sub-type PermissionDenied.
pub const AUTH_PERMISSION_DENIED: u64 = 1;
/// Auth sub-type Authenticated.
pub const AUTH_AUTHENTICATED: u64 = 2;

/// The Authenticated scope of a connection that may write.
pub const SCOPE_READ_WRITE: &str = "read-write";
/// The Authenticated scope of a read-only connection.
pub const SCOPE_READ_ONLY: &str = "readonly";

/// Separates document name and session id in a session-aware address.
pub const ADDRESS_SEPARATOR: char = '\0';

/// One Hocuspocus WebSocket frame, borrowing from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HocusFrame<'a> {
    /// Bare `[9]`: the provider answers with Pong.
    Ping,
    /// Bare `[10]`: the provider's answer to Ping.
    Pong,
    /// A message for one document.
    Doc {
        /// The document name, possibly followed by `"\0" + sessionId`; echo it
        /// verbatim in replies.
        address: &'a str,
        /// What the frame says about that document.
        message: HocusMessage<'a>,
    },
}

/// The body of a document frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HocusMessage<'a> {
    /// A y-protocols sync message (type 0).
    Sync(SyncMessage<'a>),
    /// An awareness update (type 1): the inner bytes, unwrapped from the
    /// varByteArray; parse with [`crate::awareness::decode_awareness_update`].
    Awareness(&'a [u8]),
    /// Authentication (type 2).
    Auth(HocusAuth<'a>),
    /// "Send me every awareness state" (type 3).
    QueryAwareness,
    /// A sync message that must not trigger a SyncStep1 in return (type 4). Only
    /// Hocuspocus server instances send it to each other; the provider does not
    /// know the type and ignores it, so never send it to clients.
    SyncReply(SyncMessage<'a>),
    /// An application-defined string (type 5), both directions.
    Stateless(&'a str),
    /// A stateless payload to fan out (type 6). Server-internal: the real server
    /// closes the document connection when a client sends it; clients receive
    /// broadcasts as [`Stateless`](Self::Stateless).
    BroadcastStateless(&'a str),
    /// The document connection ends (type 7). The provider sends it with no body
    /// when it detaches (`reason: None`); the server sends a reason, and must,
    /// because the provider reads one unconditionally.
    Close {
        /// Present in server-to-client frames only.
        reason: Option<&'a str>,
    },
    /// Answer to every client SyncStep2 and Update (type 8): `true` if applied (or
    /// already known), `false` if refused, e.g. on a read-only connection.
    SyncStatus(bool),
}

/// The body of an Auth message (type 2): a varUint sub-type, then its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HocusAuth<'a> {
    /// Client to server, sub-type 0: `varString token` then, from providers that
    /// have it, `varString providerVersion` (provider 4.8.0 sends `"4.8.0"`). A
    /// provider without a token sends the empty string.
    Token {
        /// The token as the application configured it.
        token: &'a str,
        /// The provider's package version, absent from older providers.
        provider_version: Option<&'a str>,
    },
    /// Server to client, sub-type 0 with no body: asks the provider to send its
    /// token again (it answers with [`Token`](Self::Token)).
    TokenRequest,
    /// Server to client, sub-type 1: authentication failed for this document.
    PermissionDenied {
        /// Shown to the application in `onAuthenticationFailed`.
        reason: &'a str,
    },
    /// Server to client, sub-type 2: authenticated; `scope` is
    /// [`SCOPE_READ_WRITE`] or [`SCOPE_READ_ONLY`].
    Authenticated {
        /// The access the connection got.
        scope: &'a str,
    },
}

impl<'a> HocusFrame<'a> {
    /// Decodes one frame; the frame must hold exactly one message.
    pub fn decode(frame: &'a [u8]) -> Result<Self, DecodeError> {
        // Same test as the provider: only a frame of exactly one byte is a Ping or
        // Pong; longer frames starting with 9 or 10 are addresses of that length.
        match frame {
            [b] if u64::from(*b) == MSG_PING => return Ok(Self::Ping),
            [b] if u64::from(*b) == MSG_PONG => return Ok(Self::Pong),
            _ => {}
        }
        let mut r = Reader::new(frame);
        let address = r.read_var_string()?;
        let message = HocusMessage::decode(&mut r)?;
        r.finish()?;
        Ok(Self::Doc { address, message })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Ping => write_var_uint(out, MSG_PING),
            Self::Pong => write_var_uint(out, MSG_PONG),
            Self::Doc { address, message } => {
                write_var_string(out, address);
                message.encode(out);
            }
        }
    }

    /// The frame as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

impl<'a> HocusMessage<'a> {
    /// Reads a message type and its body from `r` (the address already read).
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.read_var_uint()? {
            MSG_SYNC => Self::Sync(SyncMessage::decode(r)?),
            MSG_AWARENESS => Self::Awareness(r.read_var_bytes()?),
            MSG_AUTH => Self::Auth(HocusAuth::decode(r)?),
            MSG_QUERY_AWARENESS => Self::QueryAwareness,
            MSG_SYNC_REPLY => Self::SyncReply(SyncMessage::decode(r)?),
            MSG_STATELESS => Self::Stateless(r.read_var_string()?),
            MSG_BROADCAST_STATELESS => Self::BroadcastStateless(r.read_var_string()?),
            MSG_CLOSE => Self::Close {
                // The provider's Close has no body; the server's has a reason.
                reason: if r.is_empty() {
                    None
                } else {
                    Some(r.read_var_string()?)
                },
            },
            MSG_SYNC_STATUS => Self::SyncStatus(match r.read_var_uint()? {
                0 => false,
                1 => true,
                value => {
                    return Err(DecodeError::InvalidValue {
                        field: "hocuspocus sync status",
                        value,
                    });
                }
            }),
            // Ping and Pong (9, 10) are only valid as bare frames, never addressed.
            value => {
                return Err(DecodeError::UnknownMessageType {
                    kind: "hocuspocus",
                    value,
                });
            }
        })
    }

    /// The message type written before the body.
    pub fn type_id(&self) -> u64 {
        match self {
            Self::Sync(_) => MSG_SYNC,
            Self::Awareness(_) => MSG_AWARENESS,
            Self::Auth(_) => MSG_AUTH,
            Self::QueryAwareness => MSG_QUERY_AWARENESS,
            Self::SyncReply(_) => MSG_SYNC_REPLY,
            Self::Stateless(_) => MSG_STATELESS,
            Self::BroadcastStateless(_) => MSG_BROADCAST_STATELESS,
            Self::Close { .. } => MSG_CLOSE,
            Self::SyncStatus(_) => MSG_SYNC_STATUS,
        }
    }

    /// Appends the message type and body to `out` (not the address).
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_var_uint(out, self.type_id());
        match self {
            Self::Sync(sync) | Self::SyncReply(sync) => sync.encode(out),
            Self::Awareness(update) => write_var_bytes(out, update),
            Self::Auth(auth) => auth.encode(out),
            Self::QueryAwareness | Self::Close { reason: None } => {}
            Self::Stateless(payload) | Self::BroadcastStateless(payload) => {
                write_var_string(out, payload);
            }
            Self::Close {
                reason: Some(reason),
            } => write_var_string(out, reason),
            Self::SyncStatus(applied) => write_var_uint(out, u64::from(*applied)),
        }
    }
}

impl<'a> HocusAuth<'a> {
    /// Reads an Auth sub-type and its fields from `r`.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match r.read_var_uint()? {
            // Sub-type 0 is both the client's token and, bare, the server's request
            // for one; which it is shows in whether a body follows.
            AUTH_TOKEN if r.is_empty() => Self::TokenRequest,
            AUTH_TOKEN => Self::Token {
                token: r.read_var_string()?,
                provider_version: if r.is_empty() {
                    None
                } else {
                    Some(r.read_var_string()?)
                },
            },
            AUTH_PERMISSION_DENIED => Self::PermissionDenied {
                reason: r.read_var_string()?,
            },
            AUTH_AUTHENTICATED => Self::Authenticated {
                scope: r.read_var_string()?,
            },
            value => {
                return Err(DecodeError::UnknownMessageType {
                    kind: "hocuspocus auth",
                    value,
                });
            }
        })
    }

    /// Appends the sub-type and fields to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Token {
                token,
                provider_version,
            } => {
                write_var_uint(out, AUTH_TOKEN);
                write_var_string(out, token);
                if let Some(version) = provider_version {
                    write_var_string(out, version);
                }
            }
            Self::TokenRequest => write_var_uint(out, AUTH_TOKEN),
            Self::PermissionDenied { reason } => {
                write_var_uint(out, AUTH_PERMISSION_DENIED);
                write_var_string(out, reason);
            }
            Self::Authenticated { scope } => {
                write_var_uint(out, AUTH_AUTHENTICATED);
                write_var_string(out, scope);
            }
        }
    }

    /// The Authenticated message for a connection with or without write access.
    pub fn authenticated(read_only: bool) -> Self {
        Self::Authenticated {
            scope: if read_only {
                SCOPE_READ_ONLY
            } else {
                SCOPE_READ_WRITE
            },
        }
    }
}

/// The document name part of an address (everything before the first `'\0'`).
pub fn address_doc_name(address: &str) -> &str {
    address
        .split_once(ADDRESS_SEPARATOR)
        .map_or(address, |(doc, _)| doc)
}

/// The session id part of a session-aware address, if there is one.
pub fn address_session_id(address: &str) -> Option<&str> {
    address
        .split_once(ADDRESS_SEPARATOR)
        .map(|(_, session)| session)
}
