//! The HTTP side: the two routes, our JSON error shape for every failure, and
//! the audit entry of every callback.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use goonline_engine::audit::Outcome;
use goonline_engine::ops::OpError;
use serde::Deserialize;
use serde_json::json;

use super::{CALLBACK_PATH, CallbackQuery, OidcClient, START_PATH, SessionStarter};
use crate::error::ServerError;
use crate::http::peer::PeerIp;

/// The two routes, sharing the client and the session starter.
pub(super) fn router(client: Arc<OidcClient>, sessions: Arc<dyn SessionStarter>) -> Router {
    Router::new()
        .route(START_PATH, get(start))
        .route(CALLBACK_PATH, get(callback))
        .with_state(RouteState { client, sessions })
}

#[derive(Clone)]
struct RouteState {
    client: Arc<OidcClient>,
    sessions: Arc<dyn SessionStarter>,
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    mode: Option<String>,
}

/// Our JSON error shape, whatever went wrong.
fn error_response(e: OpError) -> Response {
    ServerError::Op(e).into_response()
}

/// Token and redirect answers must not be cached by browsers or proxies.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn start(
    State(s): State<RouteState>,
    query: Result<Query<StartQuery>, QueryRejection>,
) -> Response {
    let mode = match query {
        Ok(Query(q)) => q.mode,
        Err(_) => return error_response(OpError::invalid("", "malformed query string")),
    };
    let json = match mode.as_deref() {
        None | Some("redirect") => false,
        Some("json") => true,
        Some(_) => {
            return error_response(OpError::invalid("mode", "expected `json` or `redirect`"));
        }
    };
    let url = match s.client.authorize_url().await {
        Ok(url) => url,
        Err(e) => return error_response(e),
    };
    let response = if json {
        axum::Json(json!({ "authorize_url": url })).into_response()
    } else {
        match HeaderValue::from_str(&url) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => error_response(OpError::Unavailable(
                "the provider's authorization URL is invalid".into(),
            )),
        }
    };
    no_store(response)
}

async fn callback(
    State(s): State<RouteState>,
    PeerIp(ip): PeerIp,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error_response(OpError::invalid("", "malformed query string"));
    };
    let client = &s.client;
    let linked = match client.complete(q).await {
        Ok(linked) => linked,
        Err(r) => {
            let outcome = match r.error {
                OpError::Unavailable(_) | OpError::Internal(_) => Outcome::Failed,
                _ => Outcome::Denied,
            };
            let detail = json!({ "method": "oidc", "reason": r.reason });
            client.audit(r.user.as_deref(), outcome, detail, ip).await;
            return error_response(r.error);
        }
    };
    match s.sessions.start_session(&linked.user_id, ip).await {
        Ok(tokens) => {
            let detail = json!({ "method": "oidc", "link": linked.how.as_str() });
            client
                .audit(Some(&linked.user_id), Outcome::Ok, detail, ip)
                .await;
            no_store(axum::Json(tokens).into_response())
        }
        Err(e) => {
            let detail = json!({ "method": "oidc", "reason": "session" });
            client
                .audit(Some(&linked.user_id), Outcome::Failed, detail, ip)
                .await;
            error_response(e)
        }
    }
}
