//! HTTP hygiene: CORS from an allow-list, security headers on every response,
//! the origin check for WebSocket upgrades, and bounded reading of request
//! bodies.
//!
//! - [`OriginPolicy`]: the one allow-list of browser origins, used by CORS and by
//!   the WebSocket upgrade handlers alike.
//! - [`harden`]: wraps the whole router in CORS ([`cors`]) and the security
//!   headers ([`headers`]).
//! - [`body`]: reads a request body up to a byte limit; the REST API uses it, so
//!   `--max-body-bytes` is enforced where the body is read and refused in the
//!   API's own JSON error shape.

pub mod body;
pub mod cors;
pub mod headers;
pub mod peer;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue};

/// Which browser origins may call us.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Allows exactly `origins` (scheme://host[:port]). Surrounding whitespace is
    /// trimmed and empty entries are dropped (a stray comma in
    /// `GOONLINE_CORS_ORIGINS` must not allow anything).
    pub fn new(origins: &[String]) -> OriginPolicy {
        OriginPolicy {
            allowed: origins
                .iter()
                .map(|o| o.trim())
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether a request with these headers may proceed: no `Origin` header (not
    /// a browser), or an allowed one.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match headers.get("origin") {
            None => true,
            Some(o) => self.allows_origin(o),
        }
    }

    /// Whether `origin` (an `Origin` header's value) is on the list, exactly.
    pub fn allows_origin(&self, origin: &HeaderValue) -> bool {
        match origin.to_str() {
            Ok(o) => self.allowed.iter().any(|a| a == o),
            Err(_) => false,
        }
    }
}

/// Adds CORS and security headers to every route of `router`, including its
/// fallback: `tls` adds `Strict-Transport-Security`.
pub fn harden(router: Router, origins: &OriginPolicy, tls: bool) -> Router {
    // The last layer added runs first: the security headers wrap CORS, so even
    // preflight answers (which CORS gives without calling the router) carry them.
    headers::apply(router.layer(cors::layer(origins.clone())), tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(o: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = o {
            h.insert("origin", HeaderValue::from_str(o).expect("header value"));
        }
        h
    }

    #[test]
    fn no_origin_is_allowed_and_others_must_match_exactly() {
        let p = OriginPolicy::new(&[" https://shop.example ".into(), "".into()]);
        assert!(p.allows(&with_origin(None)));
        assert!(p.allows(&with_origin(Some("https://shop.example"))));
        assert!(!p.allows(&with_origin(Some("https://shop.example:443"))));
        assert!(!p.allows(&with_origin(Some("https://evil.example"))));
        assert!(!p.allows(&with_origin(Some(""))));
        assert!(!OriginPolicy::default().allows(&with_origin(Some("null"))));
    }
}
