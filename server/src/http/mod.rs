//! HTTP hygiene: CORS from an allow-list, security headers on every response,
//! and the origin check for WebSocket upgrades.
//!
//! (Being built: this is the interface the rest of the server uses.)

use axum::Router;
use axum::http::HeaderMap;

/// Which browser origins may call us.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Allows exactly `origins` (scheme://host[:port]).
    pub fn new(origins: &[String]) -> OriginPolicy {
        OriginPolicy {
            allowed: origins.to_vec(),
        }
    }

    /// Whether a request with these headers may proceed: no `Origin` header (not
    /// a browser), or an allowed one.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match headers.get("origin").and_then(|v| v.to_str().ok()) {
            None => true,
            Some(o) => self.allowed.iter().any(|a| a == o),
        }
    }
}

/// Adds CORS and security headers to every route of `router`.
pub fn harden(router: Router, _origins: &OriginPolicy, _tls: bool) -> Router {
    router
}
