//! CORS: browsers may call us only from the origins on the [`OriginPolicy`]
//! (none by default). Allowed origins get preflight answers that let them send
//! `Authorization`, `Content-Type` and `Idempotency-Key`, and may read
//! `Retry-After` and `WWW-Authenticate`. Credentials (cookies) are not allowed:
//! the API authenticates with bearer tokens only.
//!
//! A preflight from any other origin is still answered (by tower-http, without
//! calling the router) but without `Access-Control-Allow-Origin`, so the
//! browser refuses the real request.

use std::time::Duration;

use axum::http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::OriginPolicy;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins`.
pub fn layer(origins: OriginPolicy) -> CorsLayer {
    CorsLayer::new()
        // A predicate over the same policy the WebSocket upgrades use, rather than
        // tower-http's list: one definition of "allowed", and a configured `*` is
        // just an origin no browser sends (the list would panic on it).
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.allows_origin(origin)
        }))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
        .max_age(PREFLIGHT_MAX_AGE)
}
