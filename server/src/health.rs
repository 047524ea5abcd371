//! `/healthz` (the process is alive), `/readyz` (it can serve: store reachable,
//! not draining, and in a cluster the bus to the other nodes not down past its
//! grace period) and `/metrics` (Prometheus text).

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::AppState;
use crate::error::ServerError;

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store answers within two seconds, the node is not draining,
/// and the bus has not been down for longer than its grace period (a node
/// that cannot hear the others would serve stale documents and topics).
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ServerError> {
    if state.engine.is_closing() {
        return Err(ServerError::Draining);
    }
    if let Some(why) = crate::cluster::bus_unready(&state.engine, state.services.bus_down_grace) {
        return Err(ServerError::BusDown(why));
    }
    match tokio::time::timeout(Duration::from_secs(2), state.engine.store().ping()).await {
        Ok(Ok(())) => Ok("ready\n"),
        Ok(Err(e)) => Err(ServerError::StoreUnreachable(e.to_string())),
        Err(_) => Err(ServerError::StoreUnreachable("no answer within 2 s".into())),
    }
}

/// Prometheus metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::with_capacity(4096);
    state.engine.metrics().render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
