//! Error codes and WebSocket close codes, shared by all dialects.
//!
//! Error codes travel in native `error` frames (and later in REST error bodies); they
//! are stable, snake_case strings a client can switch on. Close codes are what a
//! socket is closed with when the session cannot go on. Both lists are documented in
//! `docs/protocol.md`; a new code is added there in the same commit.

use serde::{Deserialize, Serialize};

/// A machine-readable reason for an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a MessagePack map of a known shape (garbage, truncated, a
    /// missing or mistyped field).
    BadFrame,
    /// The frame's `type` is not one this server knows.
    UnknownType,
    /// The first frame was not `hello`, or `hello` came twice.
    HelloRequired,
    /// `hello` asked for a protocol version this server does not speak.
    UnsupportedVersion,
    /// A frame named a document that this session has not opened.
    DocNotOpen,
    /// `open` for a document this session already has open.
    DocAlreadyOpen,
    /// A document name that is empty, too long, or contains control characters.
    InvalidDocName,
    /// A sync or awareness payload that does not decode, or an update Yrs refuses.
    /// The document is untouched.
    InvalidUpdate,
    /// A single frame larger than the server's frame limit.
    FrameTooLarge,
    /// Applying the update would grow the document past the server's doc-size limit.
    DocTooLarge,
    /// The session already has as many documents open as the server allows.
    TooManyDocs,
    /// The access policy refuses this action (e.g. a write by a viewer), or the
    /// caller's role does not allow an operation.
    Forbidden,
    /// No valid credentials: a missing, expired, forged or revoked token.
    Unauthorized,
    /// An unknown operation, or a thing an operation names does not exist (or is
    /// not visible to the caller).
    NotFound,
    /// An operation's parameter is missing, mistyped or out of range; the error
    /// names the field.
    InvalidArgument,
    /// The request conflicts with the current state (e.g. an idempotency key
    /// reused with other parameters).
    Conflict,
    /// Too many attempts; the error says when to retry.
    RateLimited,
    /// The document could not be loaded or stored right now (the store failed);
    /// nothing was lost, retry later.
    Unavailable,
    /// A server bug. Nothing already acknowledged is lost.
    Internal,
    /// `sub` named a topic that does not exist (an unknown kind, a channel that
    /// was never created), or a topic name that is malformed.
    UnknownTopic,
    /// `unsub` or `presence` for a topic this connection has not subscribed to.
    NotSubscribed,
    /// `sub` for a topic this connection is already subscribed to.
    AlreadySubscribed,
    /// The connection already has as many subscriptions as the server allows.
    TooManySubscriptions,
}

impl ErrorCode {
    /// The wire spelling, e.g. `"invalid_update"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::DocNotOpen => "doc_not_open",
            ErrorCode::DocAlreadyOpen => "doc_already_open",
            ErrorCode::InvalidDocName => "invalid_doc_name",
            ErrorCode::InvalidUpdate => "invalid_update",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::DocTooLarge => "doc_too_large",
            ErrorCode::TooManyDocs => "too_many_docs",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::UnknownTopic => "unknown_topic",
            ErrorCode::NotSubscribed => "not_subscribed",
            ErrorCode::AlreadySubscribed => "already_subscribed",
            ErrorCode::TooManySubscriptions => "too_many_subscriptions",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes the server uses. Standard codes (1000–1015) keep their
/// RFC 6455 meaning; 4000–4999 are ours.
pub mod close {
    /// Normal closure: the client asked to close.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down (drain). Reconnect, possibly to another node.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the framing of its dialect (y-websocket/Hocuspocus bytes that
    /// do not decode, a text frame where binary is required). Reconnecting with the
    /// same bytes will fail again.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A frame larger than the frame limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// A server bug.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The server is at its connection limit; retry with backoff.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The native session broke the protocol (no `hello` first, unsupported
    /// version). An `error` frame precedes it.
    pub const NATIVE_PROTOCOL_VIOLATION: u16 = 4400;
    /// Authentication failed: a missing, invalid, expired or revoked token, a
    /// sign-out or password change, or no fresh token within the re-auth grace.
    pub const UNAUTHORIZED: u16 = 4401;
    /// Access refused or revoked (not a member, removed from the business).
    pub const FORBIDDEN: u16 = 4403;
    /// No traffic from the client within the idle timeout (dead link).
    pub const TIMEOUT: u16 = 4408;
    /// The client did not read fast enough: its outbound queue filled up. Nothing
    /// was skipped; reconnect and re-sync by state vector.
    pub const SLOW_CONSUMER: u16 = 4429;
    /// Hocuspocus only: too many frames for documents that never authenticated
    /// (the reference server's "Reset Connection").
    pub const RESET: u16 = 4205;
    /// The document could not be loaded (store unavailable). Retry later.
    pub const UNAVAILABLE: u16 = 4503;
    /// The client sent frames faster than the server allows (y-websocket and
    /// Hocuspocus; native clients get a `rate_limited` error frame instead).
    /// Reconnect after a pause and re-sync; nothing acknowledged is lost.
    pub const RATE_LIMITED: u16 = 4430;
}
