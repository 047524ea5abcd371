//! The y-websocket framing (`y-websocket` client, `@y/websocket-server`).
//!
//! One binary WebSocket frame carries exactly one message: the v3 client decodes a
//! single message per frame and ignores the rest, so we never batch and we reject
//! leftovers. The room is named by the URL, not by the frame.
//!
//! | frame                                   | message                          |
//! |-----------------------------------------|----------------------------------|
//! | `0, <sync message>`                     | Sync (see [`crate::sync`])       |
//! | `1, varByteArray(awareness update)`     | Awareness                        |
//! | `2, 0, varString reason`                | Auth: permission denied          |
//! | `3`                                     | QueryAwareness                   |
//!
//! Auth has only the permission-denied sub-type (`y-protocols/auth.js`); the client
//! just logs the reason.

use crate::lib0::{DecodeError, Reader, write_var_bytes, write_var_string, write_var_uint};
use crate::sync::SyncMessage;

/// Message type of Sync frames.
pub const MSG_SYNC: u64 = 0;
/// Message type of Awareness frames.
pub const MSG_AWARENESS: u64 = 1;
/// Message type of Auth frames.
pub const MSG_AUTH: u64 = 2;
/// Message type of QueryAwareness frames.
pub const MSG_QUERY_AWARENESS: u64 = 3;
/// The only Auth sub-type: permission denied.
pub const AUTH_PERMISSION_DENIED: u64 = 0;

/// One y-websocket frame, borrowing from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YwsMessage<'a> {
    /// A y-protocols sync message.
    Sync(SyncMessage<'a>),
    /// An awareness update: the inner bytes, already unwrapped from the
    /// varByteArray; parse with [`crate::awareness::decode_awareness_update`].
    Awareness(&'a [u8]),
    /// Access to the room was refused (read-only or no access); `denied_reason` is
    /// shown in the client's console.
    Auth {
        /// Free-form reason text.
        denied_reason: &'a str,
    },
    /// "Send me every awareness state you know."
    QueryAwareness,
}

impl<'a> YwsMessage<'a> {
    /// Decodes one frame; the frame must hold exactly one message.
    pub fn decode(frame: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(frame);
        let msg = match r.read_var_uint()? {
            MSG_SYNC => Self::Sync(SyncMessage::decode(&mut r)?),
            MSG_AWARENESS => Self::Awareness(r.read_var_bytes()?),
            MSG_AUTH => match r.read_var_uint()? {
                AUTH_PERMISSION_DENIED => Self::Auth {
                    denied_reason: r.read_var_string()?,
                },
                value => {
                    return Err(DecodeError::UnknownMessageType {
                        kind: "y-websocket auth",
                        value,
                    });
                }
            },
            MSG_QUERY_AWARENESS => Self::QueryAwareness,
            value => {
                return Err(DecodeError::UnknownMessageType {
                    kind: "y-websocket",
                    value,
                });
            }
        };
        r.finish()?;
        Ok(msg)
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Sync(sync) => {
                write_var_uint(out, MSG_SYNC);
                sync.encode(out);
            }
            Self::Awareness(update) => {
                write_var_uint(out, MSG_AWARENESS);
                write_var_bytes(out, update);
            }
            Self::Auth { denied_reason } => {
                write_var_uint(out, MSG_AUTH);
                write_var_uint(out, AUTH_PERMISSION_DENIED);
                write_var_string(out, denied_reason);
            }
            Self::QueryAwareness => write_var_uint(out, MSG_QUERY_AWARENESS),
        }
    }

    /// The frame as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}
