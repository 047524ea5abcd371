//! The OpenAPI document: every operation described, the tenancy operations
//! at their resource routes, and every `$ref` resolving.

use std::collections::BTreeSet;

use goonline_engine::testing::each_backend;
use serde_json::{Value, json};

use crate::common::TestServer;
use crate::common::http;

/// The tenancy operations and their resource routes (method, path).
const TENANCY_ROUTES: [(&str, &str, &str); 16] = [
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
    (
        "member.invite",
        "post",
        "/api/businesses/{business_id}/invitations",
    ),
    (
        "invitation.list",
        "get",
        "/api/businesses/{business_id}/invitations",
    ),
    (
        "invitation.revoke",
        "delete",
        "/api/businesses/{business_id}/invitations/{invitation_id}",
    ),
    ("invitation.accept", "post", "/api/invitations/accept"),
];

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

pub async fn the_openapi_document_describes_every_operation() {
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
        // (Nor on those whose result holds a secret.)
        assert!(!has_key(&paths["/api/ops/member.invite"]["post"]));
        assert!(has_key(&paths["/api/ops/invitation.accept"]["post"]));

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
