//! Errors in the one JSON shape with the right statuses and headers: anonymous
//! calls and refused tokens, unknown operations and routes, malformed and
//! oversized bodies (never a 500), and rate limits with `Retry-After`.

use goonline_engine::testing::each_backend;
use serde_json::json;

use crate::common::TestServer;
use crate::common::http::{self, Response};

/// Request headers, as the client helper takes them.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// Asserts `res` is an error of `status` with `code`, in the JSON shape.
pub fn assert_error(res: &Response, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(
        res.header("content-type"),
        Some("application/json"),
        "{}",
        res.text()
    );
    let body = res.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

pub async fn anonymous_calls_to_user_operations_are_unauthorized() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        let list = http::get(addr, "/api/businesses", &[]).await;
        assert_error(&list, 401, "unauthorized");
        assert!(
            list.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{:?}",
            list.headers
        );
        let create = http::json(
            addr,
            "POST",
            "/api/ops/business.create",
            &[],
            &json!({ "name": "Acme" }),
        )
        .await;
        assert_error(&create, 401, "unauthorized");
        assert!(create.header("www-authenticate").is_some());
        // Sign-in is checked before params, so bad params make no difference.
        let get = http::get(addr, "/api/businesses/nope?junk=1", &[]).await;
        assert_error(&get, 401, "unauthorized");
        let update = http::json(
            addr,
            "PATCH",
            "/api/businesses/b1",
            &[],
            &json!({ "name": "x" }),
        )
        .await;
        assert_error(&update, 401, "unauthorized");
        server.stop().await;
    })
    .await;
}

pub async fn refused_tokens_are_unauthorized_even_for_public_operations() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        let forged = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        for auth in [forged, "Bearer", "Basic dXNlcjpwYXNz", "bearer not-a-jwt"] {
            let res = http::get(addr, "/api/businesses", &[("Authorization", auth)]).await;
            assert_error(&res, 401, "unauthorized");
            assert!(
                res.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{auth}: {:?}",
                res.headers
            );
        }
        // `auth.login` is public; a refused token is still refused.
        let login = http::json(
            addr,
            "POST",
            "/api/ops/auth.login",
            &[("Authorization", forged)],
            &json!({ "email": "a@example.com", "password": "correct horse" }),
        )
        .await;
        assert_error(&login, 401, "unauthorized");
        server.stop().await;
    })
    .await;
}

pub async fn unknown_operations_and_routes_are_not_found() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        let res = http::json(addr, "POST", "/api/ops/no.such", &[], &json!({})).await;
        assert_error(&res, 404, "not_found");
        assert!(res.text().contains("no.such"), "{}", res.text());
        // Unknown before the body is looked at.
        let res = http::request(
            addr,
            "POST",
            "/api/ops/no.such",
            &[("Content-Type", "application/json")],
            Some(b"{oops"),
        )
        .await;
        assert_error(&res, 404, "not_found");
        for path in [
            "/api",
            "/api/",
            "/api/nothing/here",
            "/api/ops",
            "/api/ops/",
        ] {
            assert_error(&http::get(addr, path, &[]).await, 404, "not_found");
        }
        // A known path with a method it does not serve.
        let res = http::request(addr, "PUT", "/api/businesses", &[], Some(b"{}")).await;
        assert_error(&res, 404, "not_found");
        let allow = res.header("allow").expect("Allow").to_string();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        let res = http::get(addr, "/api/ops/business.list", &[]).await;
        assert_error(&res, 404, "not_found");
        assert_eq!(res.header("allow"), Some("POST"));
        // Paths that do not decode to UTF-8.
        assert_error(
            &http::get(addr, "/api/businesses/%FF%FE", &[]).await,
            400,
            "invalid_argument",
        );
        assert_error(
            &http::request(addr, "POST", "/api/ops/%C3%28", &[], None).await,
            400,
            "invalid_argument",
        );
        server.stop().await;
    })
    .await;
}

pub async fn malformed_bodies_are_invalid_argument() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        let json_type = [("Content-Type", "application/json")];
        let bodies: [(&str, Headers, &[u8]); 8] = [
            ("malformed JSON", &json_type, b"{\"name\": "),
            ("trailing garbage", &json_type, b"{} {}"),
            ("an array", &json_type, b"[1, 2]"),
            ("a string", &json_type, b"\"Acme\""),
            ("null", &json_type, b"null"),
            ("no content type", &[], b"{\"name\": \"Acme\"}"),
            (
                "a form",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                b"name=Acme",
            ),
            (
                "text",
                &[("Content-Type", "text/plain")],
                b"{\"name\": \"Acme\"}",
            ),
        ];
        for path in ["/api/ops/business.create", "/api/businesses"] {
            for (what, headers, body) in bodies {
                let res = http::request(addr, "POST", path, headers, Some(body)).await;
                assert_error(&res, 400, "invalid_argument");
                assert_eq!(res.json()["error"]["field"], "", "{what} at {path}");
            }
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let res = http::request(
            addr,
            "PATCH",
            "/api/businesses/b1",
            &json_type,
            Some(deep.as_bytes()),
        )
        .await;
        assert_error(&res, 400, "invalid_argument");
        // The idempotency key header must be text.
        let res = http::request(
            addr,
            "POST",
            "/api/ops/business.create",
            &[
                ("Content-Type", "application/json"),
                ("Idempotency-Key", "clé"),
            ],
            Some(b"{}"),
        )
        .await;
        assert_error(&res, 400, "invalid_argument");
        assert_eq!(res.json()["error"]["field"], "idempotency_key");
        server.stop().await;
    })
    .await;
}

pub async fn oversized_bodies_are_refused_with_413() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |a| a.security.max_body_bytes = 1024).await;
        let addr = server.addr;
        // Declared too long: refused before the body is sent.
        let res = http::send_raw(
            addr,
            b"POST /api/ops/business.create HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
              Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
        )
        .await;
        assert_error(&res, 413, "invalid_argument");
        assert_eq!(res.json()["error"]["field"], "");
        // Chunked, no length declared: refused once past the limit.
        let big = format!("{{\"name\": \"{}\"}}", "a".repeat(2000));
        let mut raw = format!(
            "PATCH /api/businesses/b1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            big.len()
        )
        .into_bytes();
        raw.extend_from_slice(big.as_bytes());
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_error(&http::send_raw(addr, &raw).await, 413, "invalid_argument");
        // Exactly at the limit is fine: on to the registry (which wants a user).
        let mut exact = br#"{"name": "Acme"}"#.to_vec();
        exact.resize(1024, b' ');
        let res = http::request(
            addr,
            "POST",
            "/api/ops/business.create",
            &[("Content-Type", "application/json")],
            Some(&exact),
        )
        .await;
        assert_error(&res, 401, "unauthorized");
        server.stop().await;
    })
    .await;
}

pub async fn rate_limits_see_the_client_address_and_send_retry_after() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |a| a.security.login_attempts_per_ip = 2).await;
        let addr = server.addr;
        // Different accounts, one address: only the per-address limit can trip,
        // so this also shows the REST caller carries the peer's IP.
        let mut last = None;
        for i in 0..5 {
            let res = http::json(
                addr,
                "POST",
                "/api/auth/login",
                &[],
                &json!({ "email": format!("nobody{i}@example.com"), "password": "wrong password" }),
            )
            .await;
            if res.status == 429 {
                last = Some(res);
                break;
            }
            assert_error(&res, 401, "unauthorized");
        }
        let limited = last.expect("rate limited within five attempts");
        assert_error(&limited, 429, "rate_limited");
        let retry_after = limited.json()["error"]["retry_after"]
            .as_u64()
            .expect("retry_after");
        assert_eq!(
            limited.header("retry-after"),
            Some(retry_after.to_string().as_str())
        );
        server.stop().await;
    })
    .await;
}
