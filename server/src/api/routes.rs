//! The resource routes the API serves, checked once at start-up.
//!
//! Operations declare their routes as data (`GET /businesses/{business_id}`);
//! axum panics on a path it cannot route, on the same method twice for a path,
//! and on two paths naming the parameter at one position differently. A
//! declaration like that is a start-up bug, but a panicking server helps no one:
//! it is logged and the operation stays reachable at `POST /api/ops/{name}`.
//! The router and the OpenAPI document both use this one plan, so the document
//! never lists a route the server does not serve.

use goonline_engine::ops::{HttpMethod, Registry};

/// One resource route of one operation.
#[derive(Debug, Clone)]
pub struct Route {
    /// The operation.
    pub op: &'static str,
    /// The method.
    pub method: HttpMethod,
    /// The path under `/api`, with `{param}` segments.
    pub path: &'static str,
    /// The names of its `{param}` segments, in order.
    pub path_params: Vec<&'static str>,
}

/// One segment of a route's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Static(&'a str),
    Param(&'a str),
}

/// The resource routes of every operation in `registry` that can be served,
/// in registry order (sorted by operation name).
pub fn plan(registry: &Registry) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    for op in registry.operations() {
        let Some(rest) = op.spec.rest else { continue };
        match check(rest.path, rest.method, &routes) {
            Ok(path_params) => routes.push(Route {
                op: op.spec.name,
                method: rest.method,
                path: rest.path,
                path_params,
            }),
            Err(why) => tracing::error!(
                op = op.spec.name,
                path = rest.path,
                "resource route not served ({why}); the operation is still at POST /api/ops/{}",
                op.spec.name
            ),
        }
    }
    routes
}

/// The segments of `path`, or why axum could not route it as we mean it.
fn segments(path: &str) -> Result<Vec<Segment<'_>>, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("the path must start with `/`".into());
    };
    let mut out = Vec::new();
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err("the path has an empty segment".into());
        }
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("`{seg}` is not a `{{param}}` segment"));
                }
                out.push(Segment::Param(name));
            }
            None if seg.contains(['{', '}', '*', '?', '#']) => {
                return Err(format!(
                    "the segment `{seg}` is neither static nor a parameter"
                ));
            }
            None => out.push(Segment::Static(seg)),
        }
    }
    Ok(out)
}

/// Checks `path` against the routes accepted so far; returns its parameter names.
fn check(
    path: &'static str,
    method: HttpMethod,
    accepted: &[Route],
) -> Result<Vec<&'static str>, String> {
    let segs = segments(path)?;
    match segs.first() {
        // `/api/ops/...` and `/api/openapi.json` are the API's own.
        Some(Segment::Static("ops")) => return Err("`/ops/...` is reserved".into()),
        Some(Segment::Static("openapi.json")) if segs.len() == 1 => {
            return Err("`/openapi.json` is reserved".into());
        }
        // Would compete with the `/api/{*rest}` not-found route.
        Some(Segment::Param(_)) => return Err("the first segment must be static".into()),
        _ => {}
    }
    let params: Vec<&'static str> = segs
        .iter()
        .filter_map(|s| match s {
            Segment::Param(p) => Some(*p),
            Segment::Static(_) => None,
        })
        .collect();
    if params
        .iter()
        .enumerate()
        .any(|(i, p)| params[..i].contains(p))
    {
        return Err("a parameter appears twice".into());
    }
    for other in accepted {
        if other.path == path && other.method == method {
            return Err(format!("`{}` already has this method and path", other.op));
        }
        // Infallible: accepted paths passed `segments` already.
        let theirs = segments(other.path).unwrap_or_default();
        if let Some((a, b)) = param_name_clash(&segs, &theirs) {
            return Err(format!(
                "`{{{a}}}` where `{}` has `{{{b}}}` at the same position",
                other.op
            ));
        }
    }
    Ok(params)
}

/// Where two paths share a prefix up to a parameter position with different
/// names (the router cannot tell them apart): the two names.
fn param_name_clash<'a>(a: &[Segment<'a>], b: &[Segment<'a>]) -> Option<(&'a str, &'a str)> {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Segment::Static(p), Segment::Static(q)) if p == q => {}
            (Segment::Param(p), Segment::Param(q)) if p == q => {}
            (Segment::Param(p), Segment::Param(q)) => return Some((p, q)),
            // The paths part ways here (a static segment beside a parameter is
            // fine: the static one wins).
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(op: &'static str, method: HttpMethod, path: &'static str) -> Route {
        Route {
            op,
            method,
            path,
            path_params: Vec::new(),
        }
    }

    #[test]
    fn accepts_plain_resource_paths() {
        let accepted = [
            route("a", HttpMethod::Get, "/businesses"),
            route("b", HttpMethod::Get, "/businesses/{business_id}"),
        ];
        assert_eq!(
            check(
                "/businesses/{business_id}/members/{user_id}",
                HttpMethod::Patch,
                &accepted
            ),
            Ok(vec!["business_id", "user_id"])
        );
        assert_eq!(
            check("/businesses/{business_id}", HttpMethod::Delete, &accepted),
            Ok(vec!["business_id"])
        );
    }

    #[test]
    fn refuses_what_axum_would_panic_on_or_misroute() {
        let accepted = [route("b", HttpMethod::Get, "/businesses/{business_id}")];
        for path in [
            "businesses",
            "/",
            "/a//b",
            "/a/{}",
            "/a/{*rest}",
            "/a/x{y}",
            "/a/{b-c}",
            "/{x}",
            "/ops/thing",
            "/openapi.json",
            "/a/{x}/{x}",
            "/businesses/{id}/members",
        ] {
            assert!(
                check(path, HttpMethod::Post, &accepted).is_err(),
                "{path} should be refused"
            );
        }
        assert!(check("/businesses/{business_id}", HttpMethod::Get, &accepted).is_err());
    }
}
