//! Security headers on every response, API or not, error or not.
//!
//! The server serves no pages, so the policy is as tight as it gets: nothing
//! may be loaded or framed (`Content-Security-Policy: default-src 'none';
//! frame-ancestors 'none'`, `X-Frame-Options: DENY` for older browsers),
//! content types are not sniffed and no referrer leaves. With `--tls` browsers
//! are also told to use HTTPS only (`Strict-Transport-Security`); without it
//! that header would be a lie, and browsers ignore it over plain HTTP anyway.
//!
//! A header a handler already set is kept, so a future route (say, a page)
//! can carry its own, looser policy deliberately.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::map_response;
use axum::response::Response;

/// The headers every response carries.
const ALWAYS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

/// `Strict-Transport-Security` with `--tls`: one year, subdomains included.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Wraps every route of `router` (and its fallback) so its responses carry the
/// security headers; `tls` adds HSTS.
pub fn apply(router: Router, tls: bool) -> Router {
    router.layer(map_response(move |mut res: Response| async move {
        add(&mut res, tls);
        res
    }))
}

fn add(res: &mut Response, tls: bool) {
    let headers = res.headers_mut();
    for (name, value) in ALWAYS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if tls {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
}
