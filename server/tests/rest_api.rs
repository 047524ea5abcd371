//! The REST API and HTTP hygiene, over real HTTP against a real server: errors
//! in the one JSON shape with the right statuses and headers (never a 500 for
//! bad input), the body limit, the OpenAPI document, security headers and CORS,
//! and a signed-in round trip through resource routes and `/api/ops`.

mod common;

use std::collections::BTreeSet;

use common::TestServer;
use common::http::{self, Response};
use goonline_engine::testing::each_backend;
use serde_json::{Value, json};

/// The tenancy operations and their resource routes (method, path).
const TENANCY_ROUTES: [(&str, &str, &str); 12] = [
    ("business.create", "post", "/api/businesses"),
    ("business.list", "get", "/api/businesses"),
    ("business.get", "get", "/api/businesses/{business_id}"),
    ("business.update", "patch", "/api/businesses/{business_id}"),
    ("business.delete", "delete", "/api/businesses/{business_id}"),
    (
        "business.verify",
        "post",
        "/api/businesses/{business_id}/verify",
    ),
    (
        "member.list",
        "get",
        "/api/businesses/{business_id}/members",
    ),
    (
        "member.add",
        "post",
        "/api/businesses/{business_id}/members",
    ),
    (
        "member.set_role",
        "patch",
        "/api/businesses/{business_id}/members/{user_id}",
    ),
    (
        "member.remove",
        "delete",
        "/api/businesses/{business_id}/members/{user_id}",
    ),
    (
        "member.leave",
        "post",
        "/api/businesses/{business_id}/leave",
    ),
    ("agent.attributions", "get", "/api/agent/attributions"),
];

/// Request headers, as the client helper takes them.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// Asserts `res` is an error of `status` with `code`, in the JSON shape.
fn assert_error(res: &Response, status: u16, code: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_calls_to_user_operations_are_unauthorized() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_are_unauthorized_even_for_public_operations() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_operations_and_routes_are_not_found() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_invalid_argument() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_413() {
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

/// Every `$ref` in `doc` that points into it, as JSON pointers.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Resolves a `#/...` reference in `doc` (JSON pointer, percent-decoded).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let mut decoded = Vec::new();
    let bytes = pointer.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    doc.pointer(&String::from_utf8(decoded).ok()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_operation() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        let res = http::get(addr, "/api/openapi.json", &[]).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("application/json"));
        let doc = res.json();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");

        // Every operation at /api/ops, and the server knows each one.
        let ops: Vec<String> = paths
            .keys()
            .filter_map(|p| p.strip_prefix("/api/ops/"))
            .map(str::to_string)
            .collect();
        for (name, _, _) in TENANCY_ROUTES {
            assert!(ops.iter().any(|o| o == name), "{name} missing from {ops:?}");
        }
        for name in &ops {
            let op = &paths[&format!("/api/ops/{name}")]["post"];
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
            let description = op["description"].as_str().expect("description");
            assert!(description.contains("Permission: "), "{description}");
            assert!(description.contains("dempotent"), "{description}");
            assert!(op["responses"]["200"]["content"]["application/json"]["schema"].is_object());
            assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object());
            let called =
                http::json(addr, "POST", &format!("/api/ops/{name}"), &[], &json!({})).await;
            assert!(
                called.status != 404 || !called.text().contains("unknown method"),
                "{name} is in the document but not served: {}",
                called.text()
            );
        }

        // The resource routes, with path params, query params or a body.
        for (name, method, path) in TENANCY_ROUTES {
            let op = &paths[path][method];
            assert!(op.is_object(), "{method} {path} missing");
            assert!(
                op["description"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("POST /api/ops/{name}"))),
                "{op}"
            );
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(['{', '}']);
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{method} {path}: no path parameter {name}: {params:?}"
                );
            }
        }
        let update = &paths["/api/businesses/{business_id}"]["patch"];
        let body = &update["requestBody"]["content"]["application/json"]["schema"];
        assert!(body["properties"]["name"].is_object(), "{body}");
        assert!(
            body["properties"].get("business_id").is_none(),
            "path params are not in the body: {body}"
        );

        // Idempotency keys exactly on state-changing operations.
        let idem = "#/components/parameters/IdempotencyKey";
        let has_key = |op: &Value| {
            op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["$ref"] == idem))
        };
        assert!(has_key(&paths["/api/ops/business.create"]["post"]));
        assert!(has_key(&paths["/api/businesses/{business_id}"]["delete"]));
        assert!(!has_key(&paths["/api/ops/business.list"]["post"]));
        assert!(!has_key(&paths["/api/businesses"]["get"]));

        // Errors, security, unique ids, and every $ref resolving.
        let list = &paths["/api/businesses"]["get"];
        assert_eq!(
            list["responses"]["401"]["$ref"],
            "#/components/responses/Unauthorized"
        );
        assert_eq!(list["security"], json!([{ "bearerAuth": [] }]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        let mut ids = BTreeSet::new();
        for item in paths.values() {
            for op in item.as_object().expect("path item").values() {
                let id = op["operationId"].as_str().expect("operationId");
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.iter().any(|r| r.contains("ErrorBody")), "{all:?}");
        for r in &all {
            assert!(resolve(&doc, r).is_some(), "unresolved $ref {r}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_security_headers_and_hsts_only_with_tls() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_allowed_origins_only() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_see_the_client_address_and_send_retry_after() {
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

/// `Authorization` for `token`.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_user_works_through_resource_routes_and_ops() {
    each_backend(|db| async move {
        let server = TestServer::start(db, |_| {}).await;
        let addr = server.addr;
        let registered = http::json(
            addr,
            "POST",
            "/api/auth/register",
            &[],
            &json!({
                "email": "rest@example.com",
                "password": "correct horse battery",
                "display_name": "Rest",
            }),
        )
        .await;
        assert_eq!(registered.status, 200, "{}", registered.text());
        let token = registered.json()["access_token"]
            .as_str()
            .expect("access token")
            .to_string();
        let auth = bearer(&token);
        let auth = [("Authorization", auth.as_str())];

        let list = http::get(addr, "/api/businesses", &auth).await;
        assert_eq!(list.status, 200, "{}", list.text());
        assert_eq!(list.json(), json!({ "businesses": [] }));
        assert_eq!(list.header("cache-control"), Some("no-store"));

        // Create with an idempotency key; the retry gets the same business.
        let key = [auth[0], ("Idempotency-Key", "create-acme-1")];
        let created = http::json(
            addr,
            "POST",
            "/api/businesses",
            &key,
            &json!({ "name": "Acme" }),
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.text());
        let business = created.json();
        let id = business["id"].as_str().expect("id").to_string();
        let again = http::json(
            addr,
            "POST",
            "/api/businesses",
            &key,
            &json!({ "name": "Acme" }),
        )
        .await;
        assert_eq!(again.json()["id"], id.as_str(), "replayed");
        let other = http::json(
            addr,
            "POST",
            "/api/businesses",
            &key,
            &json!({ "name": "Other" }),
        )
        .await;
        assert_error(&other, 409, "conflict");

        // Path params fill the params; the body and query string the others.
        let got = http::get(addr, &format!("/api/businesses/{id}"), &auth).await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.json()["name"], "Acme");
        let renamed = http::json(
            addr,
            "PATCH",
            &format!("/api/businesses/{id}"),
            &auth,
            &json!({ "name": "Acme Two", "business_id": "ignored-the-path-wins" }),
        )
        .await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        assert_eq!(renamed.json()["name"], "Acme Two");
        let bad = http::json(
            addr,
            "PATCH",
            &format!("/api/businesses/{id}"),
            &auth,
            &json!({ "name": "" }),
        )
        .await;
        assert_error(&bad, 400, "invalid_argument");
        assert_eq!(bad.json()["error"]["field"], "name");
        let unknown = http::get(addr, &format!("/api/businesses/{id}?colour=red"), &auth).await;
        assert_error(&unknown, 400, "invalid_argument");
        assert_eq!(unknown.json()["error"]["field"], "colour");
        let members = http::get(addr, &format!("/api/businesses/{id}/members"), &auth).await;
        assert_eq!(members.status, 200, "{}", members.text());
        assert_eq!(members.json()["members"][0]["role"], "owner");
        let missing = http::get(addr, "/api/businesses/no-such-business", &auth).await;
        assert_error(&missing, 404, "not_found");

        // The same operations at /api/ops.
        let listed = http::request(addr, "POST", "/api/ops/business.list", &auth, None).await;
        assert_eq!(listed.status, 200, "{}", listed.text());
        assert_eq!(listed.json()["businesses"][0]["id"], id.as_str());
        let deleted = http::request(
            addr,
            "DELETE",
            &format!("/api/businesses/{id}"),
            &auth,
            None,
        )
        .await;
        assert_eq!(deleted.status, 200, "{}", deleted.text());
        let list = http::get(addr, "/api/businesses", &auth).await;
        assert_eq!(list.json(), json!({ "businesses": [] }));
        server.stop().await;
    })
    .await;
}
