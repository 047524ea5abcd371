//! The engine's error type: what can go wrong when a session acts on a document.
//!
//! Each variant maps to one protocol [`ErrorCode`], so every adapter answers the
//! same failure the same way.

use goonline_protocol::codes::ErrorCode;

use crate::store::StoreError;

/// Why the engine refused or failed an action.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The document name is empty, too long or contains control characters.
    #[error("invalid document name: {0}")]
    InvalidDocName(String),
    /// The session has not opened this document.
    #[error("document `{0}` is not open on this connection")]
    DocNotOpen(String),
    /// The session already has this document open.
    #[error("document `{0}` is already open on this connection")]
    DocAlreadyOpen(String),
    /// The session has as many documents open as allowed.
    #[error("at most {0} documents may be open on one connection")]
    TooManyDocs(usize),
    /// The engine is at its connection limit.
    #[error("the server is at its limit of {0} connections")]
    TooManyConnections(usize),
    /// A payload that does not decode, or an update Yrs refuses.
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    /// A payload larger than the frame limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// Size received.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The update would grow the document past the doc-size limit.
    #[error("document would grow to about {size} bytes, over the limit of {limit} bytes")]
    DocTooLarge {
        /// Estimated size after the update.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The access policy refused the action.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The document needs a signed-in user.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The session may read this document but not change it (a viewer).
    #[error("read-only: you may read `{0}` but not change it")]
    ReadOnly(String),
    /// Access could not be checked right now (the store failed).
    #[error("access check failed: {0}")]
    AccessUnavailable(String),
    /// The store failed while loading the document; nothing was written.
    #[error("document could not be loaded: {0}")]
    LoadFailed(#[source] StoreError),
    /// The engine is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// No such topic (unknown kind, channel never created, malformed name).
    #[error("unknown topic: {0}")]
    UnknownTopic(String),
    /// The session does not subscribe to this topic.
    #[error("not subscribed to `{0}`")]
    NotSubscribed(String),
    /// The session already subscribes to this topic.
    #[error("already subscribed to `{0}`")]
    AlreadySubscribed(String),
    /// The session has as many subscriptions as allowed.
    #[error("at most {0} subscriptions per connection")]
    TooManySubscriptions(usize),
    /// A value in a frame is out of range (the message names it).
    #[error("{0}")]
    InvalidArgument(String),
    /// The store could not be read right now; retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl EngineError {
    /// The protocol error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::InvalidDocName(_) => ErrorCode::InvalidDocName,
            EngineError::DocNotOpen(_) => ErrorCode::DocNotOpen,
            EngineError::DocAlreadyOpen(_) => ErrorCode::DocAlreadyOpen,
            EngineError::TooManyDocs(_) => ErrorCode::TooManyDocs,
            EngineError::TooManyConnections(_) => ErrorCode::Unavailable,
            EngineError::InvalidUpdate(_) => ErrorCode::InvalidUpdate,
            EngineError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            EngineError::DocTooLarge { .. } => ErrorCode::DocTooLarge,
            EngineError::Forbidden(_) | EngineError::ReadOnly(_) => ErrorCode::Forbidden,
            EngineError::Unauthorized(_) => ErrorCode::Unauthorized,
            EngineError::AccessUnavailable(_) => ErrorCode::Unavailable,
            EngineError::LoadFailed(_) => ErrorCode::Unavailable,
            EngineError::ShuttingDown => ErrorCode::Unavailable,
            EngineError::UnknownTopic(_) => ErrorCode::UnknownTopic,
            EngineError::NotSubscribed(_) => ErrorCode::NotSubscribed,
            EngineError::AlreadySubscribed(_) => ErrorCode::AlreadySubscribed,
            EngineError::TooManySubscriptions(_) => ErrorCode::TooManySubscriptions,
            EngineError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            EngineError::Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}
