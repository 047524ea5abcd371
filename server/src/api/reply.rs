//! What the API answers: `200` with the operation's result as JSON, or an
//! [`OpError`] as its HTTP status with `{"error": {code, message, field?,
//! retry_after?}}`, plus `Retry-After` on `429` and `WWW-Authenticate: Bearer`
//! on `401`. API responses are never cached: they carry tokens and per-user
//! data.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use goonline_engine::ops::OpError;
use serde_json::{Value, json};

/// A refused request: the error, and the status to answer it with when it is
/// not the error's own (`413` for an oversized body).
#[derive(Debug)]
pub struct Refusal {
    error: OpError,
    status: Option<StatusCode>,
    /// A bearer token was sent and refused (RFC 6750 `error="invalid_token"`).
    invalid_token: bool,
}

impl Refusal {
    /// `413`: the body is over the limit. The body is an `invalid_argument` about
    /// the body as a whole (field `""`), since the error codes have no other
    /// fit and a client switching on codes already handles that one.
    pub fn too_large(limit: usize) -> Refusal {
        Refusal {
            error: OpError::invalid(
                "",
                format!("the request body is larger than the limit of {limit} bytes"),
            ),
            status: Some(StatusCode::PAYLOAD_TOO_LARGE),
            invalid_token: false,
        }
    }

    /// A refused bearer token (`e` is the identity service's reason).
    pub fn invalid_token(e: OpError) -> Refusal {
        Refusal {
            invalid_token: matches!(e, OpError::Unauthorized(_)),
            error: e,
            status: None,
        }
    }

    /// Adds the `Allow` header to a route's method refusal.
    pub fn with_allow(self, allow: HeaderValue) -> Response {
        let mut res = self.into_response();
        res.headers_mut().insert(header::ALLOW, allow);
        res
    }
}

impl From<OpError> for Refusal {
    fn from(error: OpError) -> Refusal {
        Refusal {
            error,
            status: None,
            invalid_token: false,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let mut res = json_response(status, &json!({ "error": self.error.body() }));
        let headers = res.headers_mut();
        match &self.error {
            OpError::RateLimited { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            OpError::Unauthorized(_) => {
                let challenge = if self.invalid_token {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            _ => {}
        }
        res
    }
}

/// `200` with `result`.
pub fn ok(result: &Value) -> Response {
    json_response(StatusCode::OK, result)
}

/// `status` with `value` as the JSON body, not to be cached.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    // A `Value` always serializes; the fallback only keeps this panic-free.
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| {
        br#"{"error":{"code":"internal","message":"the answer could not be encoded"}}"#.to_vec()
    });
    json_bytes(status, Bytes::from(bytes))
}

/// `status` with `json` (already encoded) as the body, not to be cached.
pub fn json_bytes(status: StatusCode, json: Bytes) -> Response {
    let mut res = (status, Body::from(json)).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
