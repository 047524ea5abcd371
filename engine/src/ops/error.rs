//! The one error shape every operation answers with, on every transport.
//!
//! A REST caller sees it as an HTTP status plus `{"error": {code, message, field?,
//! retry_after?}}`; a socket caller as the `error` of a `reply` frame with the same
//! fields. The codes are stable strings a client can switch on (see
//! `docs/protocol.md`, "Operation errors").

use serde::{Deserialize, Serialize};

/// Why an operation was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// No valid credentials (missing, expired, forged or revoked token).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The method, or the thing it names, does not exist (or is not visible to the
    /// caller).
    #[error("{0}")]
    NotFound(String),
    /// A parameter is missing, of the wrong type, or out of range.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The offending field, as a dotted path (`owner.email`); empty for the
        /// params as a whole.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The request conflicts with the current state (duplicate email, an
    /// idempotency key reused with other params, removing the last owner).
    #[error("{0}")]
    Conflict(String),
    /// The change would take a document (or another stored thing) past its
    /// size limit; nothing was changed.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts; retry after this many seconds.
    #[error("{message}")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// What was limited.
        message: String,
    },
    /// The store could not be reached; nothing was changed, retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A server bug. Nothing was changed.
    #[error("{0}")]
    Internal(String),
}

impl OpError {
    /// An `invalid_argument` naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> OpError {
        OpError::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            OpError::Unauthorized(_) => "unauthorized",
            OpError::Forbidden(_) => "forbidden",
            OpError::NotFound(_) => "not_found",
            OpError::InvalidArgument { .. } => "invalid_argument",
            OpError::Conflict(_) => "conflict",
            OpError::TooLarge(_) => "too_large",
            OpError::RateLimited { .. } => "rate_limited",
            OpError::Unavailable(_) => "unavailable",
            OpError::Internal(_) => "internal",
        }
    }

    /// The HTTP status REST answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            OpError::Unauthorized(_) => 401,
            OpError::Forbidden(_) => 403,
            OpError::NotFound(_) => 404,
            OpError::InvalidArgument { .. } => 400,
            OpError::Conflict(_) => 409,
            OpError::TooLarge(_) => 413,
            OpError::RateLimited { .. } => 429,
            OpError::Unavailable(_) => 503,
            OpError::Internal(_) => 500,
        }
    }

    /// The wire body, identical on REST and on the socket.
    pub fn body(&self) -> ErrorBody {
        let (field, retry_after, message) = match self {
            OpError::InvalidArgument { field, message } => {
                (Some(field.clone()), None, message.clone())
            }
            OpError::RateLimited {
                retry_after,
                message,
            } => (None, Some(*retry_after), message.clone()),
            other => (None, None, other.to_string()),
        };
        ErrorBody {
            code: self.code().to_string(),
            message,
            field,
            retry_after,
        }
    }

    /// Rebuilds an error from its wire body (idempotent replays store bodies).
    pub fn from_body(body: ErrorBody) -> OpError {
        let ErrorBody {
            code,
            message,
            field,
            retry_after,
        } = body;
        match code.as_str() {
            "unauthorized" => OpError::Unauthorized(message),
            "forbidden" => OpError::Forbidden(message),
            "not_found" => OpError::NotFound(message),
            "invalid_argument" => OpError::InvalidArgument {
                field: field.unwrap_or_default(),
                message,
            },
            "conflict" => OpError::Conflict(message),
            "too_large" => OpError::TooLarge(message),
            "rate_limited" => OpError::RateLimited {
                retry_after: retry_after.unwrap_or(1),
                message,
            },
            "unavailable" => OpError::Unavailable(message),
            _ => OpError::Internal(message),
        }
    }

    /// Logs a database failure and hides its details from the caller.
    pub fn from_db(context: &str, e: sqlx::Error) -> OpError {
        tracing::error!(error = %e, "{context}: database error");
        // Contention the database resolves by itself (Postgres serialization
        // failure, deadlock, lock timeout; SQLite busy or locked) is a retry
        // later, not a bug: an idempotency key is released, not spent on it.
        let transient = |code: &str| {
            matches!(
                code,
                "40001" | "40P01" | "55P03" | "5" | "6" | "261" | "262" | "517"
            )
        };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                OpError::Unavailable("the database is unavailable; retry later".into())
            }
            sqlx::Error::Database(ref d) if d.code().is_some_and(|c| transient(&c)) => {
                OpError::Unavailable("the database is busy; retry later".into())
            }
            _ => OpError::Internal(format!("{context} failed")),
        }
    }
}

/// An error as it travels: `{code, message, field?, retry_after?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// Stable machine code: `unauthorized`, `forbidden`, `not_found`,
    /// `invalid_argument`, `conflict`, `too_large`, `rate_limited`,
    /// `unavailable`, `internal`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// For `invalid_argument`: the offending field (dotted path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: seconds to wait before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}
