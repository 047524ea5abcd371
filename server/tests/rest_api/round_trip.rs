//! A registered user's round trip through the resource routes and
//! `/api/ops`.

use goonline_engine::testing::each_backend;
use serde_json::json;

use crate::common::TestServer;
use crate::common::http;
use crate::errors::assert_error;

/// `Authorization` for `token`.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub async fn a_registered_user_works_through_resource_routes_and_ops() {
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
