//! The server's one edge error type: every failure an HTTP caller can see, with
//! its status, stable code and message, rendered as `{"error": {...}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use goonline_engine::EngineError;
use goonline_engine::ops::OpError;
use goonline_protocol::codes::ErrorCode;

/// An error answered over HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The engine refused (connection limit, shutting down, ...).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store cannot be reached.
    #[error("store unreachable: {0}")]
    StoreUnreachable(String),
    /// The node is draining.
    #[error("server is shutting down")]
    Draining,
    /// The bus to the other nodes is down.
    #[error("{0}")]
    BusDown(String),
    /// Start-up failed.
    #[error("{0}")]
    Startup(String),
    /// An operation-level refusal (same body as the API's errors).
    #[error(transparent)]
    Op(#[from] OpError),
}

impl ServerError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ServerError::Engine(e) => {
                let code = e.code();
                let status = match code {
                    ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                    ErrorCode::InvalidDocName | ErrorCode::InvalidUpdate | ErrorCode::BadFrame => {
                        StatusCode::BAD_REQUEST
                    }
                    ErrorCode::FrameTooLarge | ErrorCode::DocTooLarge => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, code)
            }
            ServerError::StoreUnreachable(_) | ServerError::Draining | ServerError::BusDown(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            ServerError::Startup(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
            ServerError::Op(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        if let ServerError::Op(e) = &self {
            let status =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, Json(serde_json::json!({ "error": e.body() }))).into_response();
        }
        let (status, code) = self.status_and_code();
        let body = serde_json::json!({ "error": { "code": code, "message": self.to_string() } });
        (status, Json(body)).into_response()
    }
}
