//! HTTP hygiene on every response: security headers (HSTS only with TLS),
//! `Cache-Control` on the API, and CORS answering allowed origins only.

use goonline_engine::testing::each_backend;

use crate::common::TestServer;
use crate::common::http::{self, Response};
use crate::errors::assert_error;

fn assert_security_headers(res: &Response, tls: bool) {
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    let csp = res.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        res.header("strict-transport-security").is_some(),
        tls,
        "HSTS exactly when --tls: {:?}",
        res.headers
    );
}

pub async fn every_response_carries_security_headers_and_hsts_only_with_tls() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        for res in [
            http::get(addr, "/healthz", &[]).await,
            http::get(addr, "/api/openapi.json", &[]).await,
            http::get(addr, "/api/businesses", &[]).await,
            http::get(addr, "/api/nothing", &[]).await,
            http::get(addr, "/not-a-route", &[]).await,
        ] {
            assert_security_headers(&res, false);
        }
        let api = http::get(addr, "/api/businesses", &[]).await;
        assert_eq!(api.header("cache-control"), Some("no-store"));
        server.stop().await;
    })
    .await;
    let db = goonline_engine::testing::TestDb::sqlite();
    let server = TestServer::start(db, |a| a.security.tls = true).await;
    for path in ["/healthz", "/api/businesses", "/api/openapi.json"] {
        assert_security_headers(&http::get(server.addr, path, &[]).await, true);
    }
    server.stop().await;
}

/// A browser's preflight for `PATCH /api/businesses/b1` with our headers.
async fn preflight(addr: std::net::SocketAddr, origin: &str) -> Response {
    http::request(
        addr,
        "OPTIONS",
        "/api/businesses/b1",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "PATCH"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type, idempotency-key",
            ),
        ],
        None,
    )
    .await
}

pub async fn cors_answers_allowed_origins_only() {
    each_backend(|db| async move {
        let allowed = "https://app.example";
        let server =
            TestServer::start(db, |a| a.security.cors_origins = vec![allowed.into()]).await;
        let addr = server.addr;
        let ok = preflight(addr, allowed).await;
        assert!(ok.status < 300, "{}", ok.status);
        assert_eq!(ok.header("access-control-allow-origin"), Some(allowed));
        let headers = ok
            .header("access-control-allow-headers")
            .expect("allow-headers")
            .to_ascii_lowercase();
        for h in ["authorization", "content-type", "idempotency-key"] {
            assert!(headers.contains(h), "{headers}");
        }
        let methods = ok.header("access-control-allow-methods").expect("methods");
        assert!(methods.contains("PATCH"), "{methods}");
        assert!(ok.header("access-control-allow-credentials").is_none());
        assert_security_headers(&ok, false);

        let other = preflight(addr, "https://evil.example").await;
        assert!(other.header("access-control-allow-origin").is_none());

        // The real request: allowed origins may read it and its Retry-After.
        let real = http::get(addr, "/api/businesses", &[("Origin", allowed)]).await;
        assert_error(&real, 401, "unauthorized");
        assert_eq!(real.header("access-control-allow-origin"), Some(allowed));
        let exposed = real
            .header("access-control-expose-headers")
            .expect("expose-headers")
            .to_ascii_lowercase();
        assert!(exposed.contains("retry-after"), "{exposed}");
        let real = http::get(
            addr,
            "/api/businesses",
            &[("Origin", "https://evil.example")],
        )
        .await;
        assert!(real.header("access-control-allow-origin").is_none());
        server.stop().await;

        // By default no origin is allowed.
        let db = goonline_engine::testing::TestDb::sqlite();
        let server = TestServer::start(db, |_| {}).await;
        let res = http::request(
            server.addr,
            "OPTIONS",
            "/api/businesses",
            &[
                ("Origin", allowed),
                ("Access-Control-Request-Method", "GET"),
            ],
            None,
        )
        .await;
        assert!(res.header("access-control-allow-origin").is_none());
        server.stop().await;
    })
    .await;
}
