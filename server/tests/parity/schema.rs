//! Values read off the OpenAPI document's params schemas: the JSON types a
//! schema allows, a value it accepts, one of a wrong type, one too long.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// Follows `$ref`s (into `#/components/schemas`) until a schema.
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            return s;
        };
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        s = &doc["components"]["schemas"][name];
        assert!(!s.is_null(), "unresolved $ref {r}");
    }
    panic!("$ref cycle at {schema}")
}

/// The JSON types a schema allows (from `type`, `const`, `enum`, and the
/// alternatives of `oneOf`/`anyOf`/`allOf`), without `null`.
pub fn types_of(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let s = resolve(doc, schema);
    let mut out = BTreeSet::new();
    match &s["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().filter_map(Value::as_str).map(str::to_string)),
        _ => {}
    }
    let mut consts: Vec<&Value> = s.get("const").into_iter().collect();
    consts.extend(s["enum"].as_array().into_iter().flatten());
    for c in consts {
        out.insert(
            match c {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                Value::Null => "null",
            }
            .to_string(),
        );
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in s[key].as_array().into_iter().flatten() {
            out.extend(types_of(doc, sub));
        }
    }
    out.remove("null");
    out
}

/// The first value a schema names outright (`const`, `enum`, or one of its
/// alternatives'), if any.
fn first_const(doc: &Value, schema: &Value) -> Option<Value> {
    let s = resolve(doc, schema);
    if let Some(c) = s.get("const") {
        return Some(c.clone());
    }
    if let Some(e) = s["enum"]
        .as_array()
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return Some(e.clone());
    }
    ["oneOf", "anyOf", "allOf"]
        .iter()
        .flat_map(|k| s[*k].as_array().into_iter().flatten())
        .find_map(|sub| first_const(doc, sub))
}

/// A value the schema accepts (the business id is the real one, so permission
/// checks pass and the params are what is judged).
pub fn valid_value(doc: &Value, name: &str, schema: &Value, business: &str) -> Value {
    if name == "business_id" {
        return json!(business);
    }
    if let Some(c) = first_const(doc, schema) {
        return c;
    }
    let s = resolve(doc, schema);
    let types = types_of(doc, s);
    if types.contains("string") {
        if s["format"] == "email" {
            return json!("someone@example.com");
        }
        let min = s["minLength"].as_u64().unwrap_or(1).max(1) as usize;
        return json!("a".repeat(min));
    }
    if types.contains("integer") || types.contains("number") {
        return json!(s["minimum"].as_u64().unwrap_or(1).max(1));
    }
    if types.contains("boolean") {
        return json!(true);
    }
    if types.contains("array") {
        return json!([]);
    }
    if types.contains("object") {
        return json!({});
    }
    panic!("no valid value known for `{name}`: {schema}")
}

/// A value of a JSON type the schema does not allow.
pub fn wrong_value(types: &BTreeSet<String>) -> Option<Value> {
    let has = |t: &str| types.contains(t);
    if has("string") {
        Some(json!(12345))
    } else if has("integer") || has("number") {
        Some(json!("not-a-number"))
    } else if has("boolean") {
        Some(json!("not-a-boolean"))
    } else if has("array") {
        Some(json!({ "not": "an array" }))
    } else if has("object") {
        Some(json!(["not", "an", "object"]))
    } else {
        None
    }
}

/// A string one character over `maxLength`, of the schema's format.
pub fn too_long(schema: &Value, max: usize) -> Value {
    if schema["format"] == "email" {
        let domain = "@example.com";
        json!(format!("{}{domain}", "a".repeat(max + 1 - domain.len())))
    } else {
        json!("a".repeat(max + 1))
    }
}
