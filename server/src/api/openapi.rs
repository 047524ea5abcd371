//! The OpenAPI 3.1 document (`GET /api/openapi.json`), generated from the
//! registry so it cannot drift from what is served.
//!
//! Each operation appears twice: at `POST /api/ops/{name}` with its params as
//! the request body, and at its resource route (when it has one) with path and
//! query parameters or a body without the path's params. Schemas come from one
//! schemars generator whose definitions live at `#/components/schemas`, so
//! every `$ref` it writes resolves in this document; errors share one
//! `ErrorResponse` schema (`{"error": ErrorBody}`) through
//! `#/components/responses`.

use std::collections::{BTreeSet, HashSet};

use goonline_engine::ops::registry::Operation;
use goonline_engine::ops::{ErrorBody, HttpMethod, OpSpec, Permission, Registry};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::openapi_errors::{error_responses, response_name};
use super::routes::Route;

/// Where schemars puts shared schemas, and where `$ref`s point.
const SCHEMAS: &str = "#/components/schemas";

/// The security scheme's name.
const BEARER: &str = "bearerAuth";

/// An operation with its schemas, generated once for both of its doors.
struct Described<'a> {
    spec: &'a OpSpec,
    params: Value,
    result: Value,
}

/// Which door an operation object describes.
enum Door<'a> {
    /// `POST /api/ops/{name}`.
    Ops,
    /// Its resource route.
    Resource(&'a Route),
}

/// The document for `registry`, whose served resource routes are `routes`.
pub fn document(registry: &Registry, routes: &[Route]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = SCHEMAS.into();
            // Schemas inside an OpenAPI 3.1 document use its dialect.
            s.meta_schema = None;
        })
        .into_generator();
    let error_body = generator.subschema_for::<ErrorBody>().to_value();
    let ops: Vec<Described> = registry
        .operations()
        .map(|op: &Operation| Described {
            spec: &op.spec,
            params: (op.params_schema)(&mut generator).to_value(),
            result: (op.result_schema)(&mut generator).to_value(),
        })
        .collect();
    let mut schemas = generator.take_definitions(true);
    let envelope = unused_name(&schemas, "ErrorResponse");
    schemas.insert(
        envelope.clone(),
        json!({
            "type": "object",
            "description": "Every error: its stable code, a message, and for some codes the field or the seconds to wait.",
            "properties": { "error": error_body },
            "required": ["error"],
        }),
    );
    let envelope_ref = json!({ "$ref": format!("{SCHEMAS}/{}", escape(&envelope)) });

    let mut ids = HashSet::new();
    let mut paths = Map::new();
    for op in &ops {
        let id = unique_id(&mut ids, op.spec.name);
        let described = operation(op, &Door::Ops, &schemas, id);
        paths.insert(
            format!("/api/ops/{}", op.spec.name),
            json!({ "post": described }),
        );
    }
    for route in routes {
        let Some(op) = ops.iter().find(|o| o.spec.name == route.op) else {
            continue;
        };
        let id = unique_id(&mut ids, &format!("{}.rest", op.spec.name));
        let described = operation(op, &Door::Resource(route), &schemas, id);
        let item = paths
            .entry(format!("/api{}", route.path))
            .or_insert_with(|| json!({}));
        if let Value::Object(item) = item {
            item.insert(route.method.as_str().into(), described);
        }
    }
    let tags: BTreeSet<&str> = ops.iter().map(|o| tag(o.spec.name)).collect();

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "GoOnline API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every operation of the GoOnline server, at `POST /api/ops/{name}` and at its resource route. Errors are `{\"error\": {code, message, field?, retry_after?}}`; see docs/protocol.md, section 9.",
        },
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses(&envelope_ref),
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    "description": "Makes a retry of this state-changing call safe: the first call's outcome is stored and replayed to retries with the same key and params (kept at least 24 h).",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
                },
            },
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from `auth.login` or `auth.register`.",
                },
            },
        },
    })
}

/// The operation object for `op` at `door`.
fn operation(op: &Described, door: &Door, schemas: &Map<String, Value>, id: String) -> Value {
    let spec = op.spec;
    let object = resolve(&op.params, schemas);
    let mut parameters = Vec::new();
    let mut body = None;
    match door {
        Door::Ops => body = Some(request_body(op.params.clone(), object)),
        Door::Resource(route) => {
            for name in &route.path_params {
                parameters.push(parameter(name, "path", true, object));
            }
            let rest = without(object, &route.path_params);
            match route.method {
                HttpMethod::Get | HttpMethod::Delete => {
                    if let Some(rest) = &rest {
                        let required = required_of(rest);
                        for name in properties_of(rest).keys() {
                            let needed = required.contains(&name.as_str());
                            parameters.push(parameter(name, "query", needed, object));
                        }
                    }
                }
                HttpMethod::Post | HttpMethod::Patch => {
                    body = Some(match rest {
                        Some(rest) => {
                            let o = rest.clone();
                            request_body(Value::Object(rest), Some(&o))
                        }
                        // Not a plain object schema: document it whole.
                        None => request_body(op.params.clone(), object),
                    });
                }
            }
        }
    }
    if spec.idempotency_keys {
        parameters.push(json!({ "$ref": "#/components/parameters/IdempotencyKey" }));
    }

    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "The result.",
            "content": { "application/json": { "schema": op.result } },
        }),
    );
    let mut errors = vec!["400", "401"];
    if spec.permission != Permission::Public {
        errors.push("403");
    }
    errors.push("404");
    if !spec.read_only {
        errors.push("409");
    }
    if body.is_some() {
        errors.push("413");
    }
    errors.extend(["429", "500", "503"]);
    for status in errors {
        responses.insert(
            status.into(),
            json!({ "$ref": format!("#/components/responses/{}", response_name(status)) }),
        );
    }

    let mut out = json!({
        "operationId": id,
        "summary": spec.summary,
        "description": description(spec, door),
        "tags": [tag(spec.name)],
        "security": security(spec.permission),
        "responses": responses,
    });
    if let Value::Object(o) = &mut out {
        if !parameters.is_empty() {
            o.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(body) = body {
            o.insert("requestBody".into(), body);
        }
    }
    out
}

/// Who may call, whether it changes state, and the other door.
fn description(spec: &OpSpec, door: &Door) -> String {
    let effect = match (spec.read_only, spec.idempotent) {
        (true, _) => "Read-only (idempotent): safe to retry.".to_string(),
        (false, true) => "Changes state; idempotent: repeating it has the same effect as doing it once, so a plain retry is safe. Accepts an `Idempotency-Key`.".to_string(),
        (false, false) => "Changes state; not idempotent: retry only with the same `Idempotency-Key`.".to_string(),
    };
    let other = match (door, spec.rest) {
        (Door::Ops, Some(r)) => format!(
            " Also served at `{} /api{}`.",
            r.method.as_str().to_ascii_uppercase(),
            r.path
        ),
        (Door::Ops, None) => String::new(),
        (Door::Resource(_), _) => format!(" Also served at `POST /api/ops/{}`.", spec.name),
    };
    format!(
        "Method `{}`. Permission: {}. {effect}{other}",
        spec.name,
        spec.permission.describe()
    )
}

/// Public operations work without a token (a refused one is still `401`).
fn security(permission: Permission) -> Value {
    if permission == Permission::Public {
        json!([{}, { BEARER: [] }])
    } else {
        json!([{ BEARER: [] }])
    }
}

/// A JSON request body of `schema`, required when `object` requires a field.
fn request_body(schema: Value, object: Option<&Map<String, Value>>) -> Value {
    let required = object.is_some_and(|o| !required_of(o).is_empty());
    json!({
        "required": required,
        "content": { "application/json": { "schema": schema } },
    })
}

/// A path or query parameter, with the schema and description of the params
/// property of that name (a string when there is none).
fn parameter(
    name: &str,
    place: &str,
    required: bool,
    object: Option<&Map<String, Value>>,
) -> Value {
    let mut schema = object
        .and_then(|o| properties_of(o).get(name).cloned())
        .unwrap_or_else(|| json!({ "type": "string" }));
    // A path or query string cannot say `null`: an optional param is just absent.
    if let Value::Object(s) = &mut schema {
        if let Some(Value::Array(types)) = s.get_mut("type") {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                let only = only.clone();
                s.insert("type".into(), only);
            }
        }
        if s.get("default") == Some(&Value::Null) {
            s.remove("default");
        }
    }
    let mut p = json!({
        "name": name,
        "in": place,
        "required": required,
        "schema": schema,
    });
    if let (Value::Object(p), Some(d)) = (&mut p, schema.get("description")) {
        p.insert("description".into(), d.clone());
    }
    p
}

/// The object schema `schema` is or refers to (in `schemas`), if it is one.
fn resolve<'a>(
    schema: &'a Value,
    schemas: &'a Map<String, Value>,
) -> Option<&'a Map<String, Value>> {
    let target = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix(SCHEMAS)?.strip_prefix('/')?;
            schemas.get(&unescape(name))?
        }
        None => schema,
    };
    let o = target.as_object()?;
    let is_object =
        o.get("type").and_then(Value::as_str) == Some("object") || o.contains_key("properties");
    is_object.then_some(o)
}

/// `object` without the properties `names` (the path's params).
fn without(object: Option<&Map<String, Value>>, names: &[&str]) -> Option<Map<String, Value>> {
    let mut o = object?.clone();
    if let Some(Value::Object(props)) = o.get_mut("properties") {
        for n in names {
            props.remove(*n);
        }
    }
    if let Some(Value::Array(req)) = o.get_mut("required") {
        req.retain(|r| !r.as_str().is_some_and(|r| names.contains(&r)));
        if req.is_empty() {
            o.remove("required");
        }
    }
    Some(o)
}

fn properties_of(object: &Map<String, Value>) -> Map<String, Value> {
    object
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn required_of(object: &Map<String, Value>) -> Vec<&str> {
    object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The first part of a method name (`business.create` → `business`).
fn tag(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// `base`, or `base2`, `base3`...: an operation id not used yet.
fn unique_id(used: &mut HashSet<String>, base: &str) -> String {
    let mut id = base.to_string();
    let mut n = 2;
    while used.contains(&id) {
        id = format!("{base}{n}");
        n += 1;
    }
    used.insert(id.clone());
    id
}

/// `base`, or `base2`...: a schema name the generator did not use.
fn unused_name(schemas: &Map<String, Value>, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while schemas.contains_key(&name) {
        name = format!("{base}{n}");
        n += 1;
    }
    name
}

/// A name as a JSON pointer segment inside a URI fragment.
fn escape(name: &str) -> String {
    let mut out = String::new();
    for b in name.replace('~', "~0").replace('/', "~1").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`escape`].
fn unescape(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out)
        .replace("~1", "/")
        .replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_pointer_escaping() {
        for name in ["Business", "Text_for_1_120", "a/b~c", "Ünïcode name"] {
            assert_eq!(unescape(&escape(name)), name);
        }
    }

    #[test]
    fn resource_bodies_leave_out_the_path_params() {
        let object = json!({
            "type": "object",
            "properties": { "business_id": { "type": "string" }, "name": { "type": "string" } },
            "required": ["business_id", "name"],
        });
        let rest = without(object.as_object(), &["business_id"]).expect("object");
        assert_eq!(
            Value::Object(rest),
            json!({
                "type": "object",
                "properties": { "name": { "type": "string" } },
                "required": ["name"],
            })
        );
    }
}
