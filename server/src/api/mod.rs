//! REST: every operation at `POST /api/ops/{method}` and at its resource route,
//! and the OpenAPI document at `/api/openapi.json`. Written once over the
//! operation registry: adding an operation adds its routes and its place in the
//! document, and REST runs the very `Registry::call` the socket runs.
//!
//! - `POST /api/ops/{method}`: the params are the JSON body (empty: none).
//! - The resource route (`GET /api/businesses/{business_id}`): `{param}` path
//!   segments fill the params of that name, overriding the same name elsewhere;
//!   on `GET` and `DELETE` the query string fills the others (as strings), on
//!   `POST` and `PATCH` the JSON body does. Several operations may share a path
//!   with different methods.
//! - `Authorization: Bearer <token>` signs the call in (see [`request`]);
//!   `Idempotency-Key` is passed to the registry.
//! - Answers (see [`reply`]): `200` with the result, or the error's status with
//!   `{"error": {code, message, field?, retry_after?}}`. A body over
//!   `--max-body-bytes` is `413` with code `invalid_argument` and field `""`
//!   (the body as a whole). Unknown `/api` paths, and known paths with a method
//!   they do not serve (with an `Allow` header), are `404 not_found`.
//!
//! The checks run in this order: route, token, (for `/api/ops`) method name,
//! idempotency-key header, body or query string, then the registry's own
//! (sign-in, permission, params, idempotency).

pub mod openapi;
mod openapi_errors;
pub mod reply;
pub mod request;
pub mod routes;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, get, on};
use goonline_engine::ops::{HttpMethod, OpError, Registry};
use serde_json::Value;

use self::reply::Refusal;
use self::routes::Route;
use crate::identity::Identity;

/// What every API handler shares.
struct Api {
    registry: Arc<Registry>,
    identity: Identity,
    max_body_bytes: usize,
}

/// Which operation a route runs, and where its params come from.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `POST /api/ops/{method}`: the method from the path, params from the body.
    Ops,
    /// A resource route of `op`.
    Resource {
        op: &'static str,
        /// Query string (`GET`, `DELETE`) or body (`POST`, `PATCH`).
        from_query: bool,
    },
}

/// The `/api` routes.
pub fn router(registry: Arc<Registry>, identity: Identity, max_body_bytes: usize) -> Router {
    let routes = routes::plan(&registry);
    let document = openapi::document(&registry, &routes);
    // Built once: the registry is frozen, so the document cannot change.
    let document = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
    let api = Arc::new(Api {
        registry,
        identity,
        max_body_bytes,
    });

    let mut router = Router::new()
        .route(
            "/api/ops/{method}",
            refuse_other_methods(endpoint(&api, MethodFilter::POST, Target::Ops), "POST"),
        )
        .route(
            "/api/openapi.json",
            refuse_other_methods(
                get(move || {
                    let document = document.clone();
                    async move { reply::json_bytes(StatusCode::OK, document) }
                }),
                "GET, HEAD",
            ),
        )
        // (`{*rest}` needs at least one character: `/api/` is its own route.)
        .route("/api", any(unknown_route))
        .route("/api/", any(unknown_route))
        .route("/api/{*rest}", any(unknown_route));

    let mut by_path: BTreeMap<&'static str, Vec<&Route>> = BTreeMap::new();
    for route in &routes {
        by_path.entry(route.path).or_default().push(route);
    }
    for (path, routes) in by_path {
        let mut methods = MethodRouter::new();
        let mut allow = Vec::new();
        for route in routes {
            let target = Target::Resource {
                op: route.op,
                from_query: matches!(route.method, HttpMethod::Get | HttpMethod::Delete),
            };
            // Several operations may share a path, one per method.
            methods = methods.merge(endpoint(&api, filter(route.method), target));
            allow.push(route.method.as_str().to_ascii_uppercase());
            if route.method == HttpMethod::Get {
                allow.push("HEAD".into());
            }
        }
        router = router.route(
            &format!("/api{path}"),
            refuse_other_methods(methods, &allow.join(", ")),
        );
    }
    router
}

/// A method router running `target` for the methods in `methods`.
fn endpoint(api: &Arc<Api>, methods: MethodFilter, target: Target) -> MethodRouter {
    let api = api.clone();
    on(methods, move |req: Request| async move {
        match call(&api, target, req).await {
            Ok(result) => reply::ok(&result),
            Err(refusal) => refusal.into_response(),
        }
    })
}

/// Reads the call (see the module docs for the order of checks) and runs it.
async fn call(api: &Api, target: Target, req: Request) -> Result<Value, Refusal> {
    let (mut parts, body) = req.into_parts();
    let caller = request::caller(&api.identity, &parts).await?;
    let path = request::path_params(&mut parts).await?;
    let (method, path, from_query) = match target {
        Target::Ops => {
            let method = path
                .into_iter()
                .find_map(|(k, v)| (k == "method").then_some(v))
                .unwrap_or_default();
            // Before the body is read: an unknown method is the answer whatever
            // the body holds.
            if api.registry.get(&method).is_none() {
                return Err(OpError::NotFound(format!("unknown method `{method}`")).into());
            }
            (method, Vec::new(), false)
        }
        Target::Resource { op, from_query } => (op.to_string(), path, from_query),
    };
    let key = request::idempotency_key(&parts.headers)?;
    let mut params = if from_query {
        request::query_params(&parts.uri)?
    } else {
        request::body_params(&parts.headers, body, api.max_body_bytes).await?
    };
    // Path segments name the resource: they win over the same name in the body
    // or the query string.
    for (name, value) in path {
        params.insert(name, Value::String(value));
    }
    api.registry
        .call(caller, &method, Value::Object(params), key.as_deref())
        .await
        .map_err(Refusal::from)
}

fn filter(method: HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Delete => MethodFilter::DELETE,
    }
}

/// Answers methods `methods` does not serve with our `404` (axum's own would be
/// an empty `405`), naming the ones it does in `Allow`.
fn refuse_other_methods(methods: MethodRouter, allow: &str) -> MethodRouter {
    let allow = HeaderValue::from_str(allow).unwrap_or(HeaderValue::from_static(""));
    methods.fallback(move |req: Request| {
        let allow = allow.clone();
        async move {
            Refusal::from(OpError::NotFound(format!(
                "no route for {} {}",
                req.method(),
                shorten(req.uri().path())
            )))
            .with_allow(allow)
        }
    })
}

/// Any other `/api` path.
async fn unknown_route(req: Request) -> Response {
    Refusal::from(OpError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        shorten(req.uri().path())
    )))
    .into_response()
}

/// A path as echoed in a message: at most 200 characters.
fn shorten(path: &str) -> String {
    match path.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &path[..i]),
        None => path.to_string(),
    }
}
