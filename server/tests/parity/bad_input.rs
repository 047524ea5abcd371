//! Bad params generated for every operation from its params schema — a
//! required field missing, a wrong type, over `maxLength`, an unknown param,
//! params that are not an object — sent through both doors by a caller allowed
//! to call the operation.

use serde_json::{Map, Value, json};

use goonline_engine::testing::TestDb;

use crate::accounts::{create_business, promote, register};
use crate::common::http;
use crate::doors::{Sockets, rest};
use crate::schema::{resolve, too_long, types_of, valid_value, wrong_value};
use crate::{operations, server};

/// Who may call an operation, from its description's `Permission: …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Anyone,
    User,
    PlatformAdmin,
    Member,
}

fn allowed(op: &Value) -> Allowed {
    let d = op["description"].as_str().expect("description");
    if d.contains("Permission: public.") {
        Allowed::Anyone
    } else if d.contains("Permission: signed-in user.") {
        Allowed::User
    } else if d.contains("Permission: platform admin.") {
        Allowed::PlatformAdmin
    } else if d.contains("Permission: business member") {
        Allowed::Member
    } else {
        panic!("unknown permission in {d:?}")
    }
}

/// One generated bad call.
struct Bad {
    what: String,
    params: Value,
    field: String,
}

/// Sends the generated bad calls on one backend; returns how many, and what
/// was answered wrongly.
pub async fn bad_input(db: TestDb) -> (usize, Vec<String>) {
    let label = db.label;
    let server = server(db).await;
    let addr = server.addr;
    let doc = http::get(addr, "/api/openapi.json", &[]).await.json();
    let owner = register(addr, "owner").await;
    let padmin = register(addr, "padmin").await;
    promote(&server, &padmin.id).await;
    let business = create_business(addr, &owner, "Shop").await;
    let mut sockets = Sockets::new(addr);
    let mut problems: Vec<String> = Vec::new();
    let mut sent = 1; // (the unknown method, below)
    let unknown = "unexpected_param";

    let ops = operations(&doc);
    assert!(ops.len() >= 23, "{ops:?}");
    for name in &ops {
        let op = &doc["paths"][format!("/api/ops/{name}")]["post"];
        let token = match allowed(op) {
            Allowed::Anyone => None,
            Allowed::User | Allowed::Member => owner.token(),
            Allowed::PlatformAdmin => padmin.token(),
        };
        let schema = resolve(
            &doc,
            &op["requestBody"]["content"]["application/json"]["schema"],
        );
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let base: Map<String, Value> = required
            .iter()
            .map(|r| {
                let s = props
                    .get(*r)
                    .unwrap_or_else(|| panic!("{name}: {r} has no schema"));
                (r.to_string(), valid_value(&doc, r, s, &business))
            })
            .collect();
        let with = |prop: &str, value: Value| {
            let mut m = base.clone();
            m.insert(prop.to_string(), value);
            Value::Object(m)
        };

        let mut bad: Vec<Bad> = Vec::new();
        for r in &required {
            let mut m = base.clone();
            m.remove(*r);
            bad.push(Bad {
                what: format!("(a) `{r}` missing"),
                params: Value::Object(m),
                field: r.to_string(),
            });
        }
        for (prop, s) in &props {
            let s = resolve(&doc, s);
            if let Some(wrong) = wrong_value(&types_of(&doc, s)) {
                bad.push(Bad {
                    what: format!("(b) `{prop}` of the wrong type"),
                    params: with(prop, wrong),
                    field: prop.clone(),
                });
            }
            if let Some(max) = s["maxLength"].as_u64() {
                bad.push(Bad {
                    what: format!("(c) `{prop}` over its maxLength {max}"),
                    params: with(prop, too_long(s, max as usize)),
                    field: prop.clone(),
                });
            }
        }
        bad.push(Bad {
            what: "(d) an unknown param".into(),
            params: with(unknown, json!(true)),
            field: unknown.into(),
        });
        for params in [json!([]), json!("params")] {
            bad.push(Bad {
                what: format!("(e) params that are not an object: {params}"),
                params,
                field: String::new(),
            });
        }

        sockets.ready(token).await;
        for b in bad {
            sent += 1;
            let (status, r) = rest(addr, token, name, &b.params, None).await;
            let s = sockets.call(token, name, &b.params, None).await;
            let mut trouble = Vec::new();
            if status != 400 {
                trouble.push(format!("REST status {status}, expected 400"));
            }
            for (door, out) in [("REST", &r), ("socket", &s)] {
                if out.code() != "invalid_argument" {
                    trouble.push(format!("{door} code `{}`", out.code()));
                }
                if out.field() != Some(b.field.as_str()) {
                    trouble.push(format!(
                        "{door} field {:?}, expected {:?}",
                        out.field(),
                        b.field
                    ));
                }
            }
            if status == 500 || r.code() == "internal" || s.code() == "internal" {
                trouble.push("a 500 / internal for bad input".into());
            }
            if !trouble.is_empty() {
                problems.push(format!(
                    "[{label}] `{name}` {}: params {}\n  REST   {status} {r:?}\n  socket {s:?}\n  - {}",
                    b.what,
                    b.params,
                    trouble.join("\n  - ")
                ));
            }
        }
    }

    // An unknown method, at both doors.
    let (status, r) = rest(addr, owner.token(), "no.such_method", &json!({}), None).await;
    let s = sockets
        .call(owner.token(), "no.such_method", &json!({}), None)
        .await;
    if status != 404 || r.code() != "not_found" || s.code() != "not_found" || r != s {
        problems.push(format!(
            "[{label}] unknown method\n  REST   {status} {r:?}\n  socket {s:?}"
        ));
    }

    server.stop().await;
    (sent, problems)
}
