//! REST: every operation at `POST /api/ops/{method}` and at its resource route,
//! and the OpenAPI document at `/api/openapi.json`.
//!
//! (Being built: this is the interface the rest of the server uses.)

use std::sync::Arc;

use axum::Router;
use goonline_engine::ops::Registry;

use crate::identity::Identity;

/// The `/api` routes.
pub fn router(_registry: Arc<Registry>, _identity: Identity, _max_body_bytes: usize) -> Router {
    Router::new()
}
