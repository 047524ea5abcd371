//! The OpenAPI document's shared error responses: one per status, each the
//! `ErrorResponse` envelope with what that status means here.

use serde_json::{Map, Value, json};

/// The shared error responses, by [`response_name`].
pub(super) fn error_responses(envelope: &Value) -> Value {
    let mut out = Map::new();
    for (status, description) in [
        (
            "400",
            "`invalid_argument`: a parameter is missing, of the wrong type, out of range or unknown, or the body is not a JSON object (`field` names it; `\"\"` is the body as a whole).",
        ),
        (
            "401",
            "`unauthorized`: no token on an operation that needs one, or a refused token (even on a public operation).",
        ),
        ("403", "`forbidden`: the caller's role does not allow this."),
        (
            "404",
            "`not_found`: unknown operation or route, or a business, member or user that does not exist or that the caller may not see.",
        ),
        (
            "409",
            "`conflict`: conflicts with the current state, or an `Idempotency-Key` reused with other params or still running.",
        ),
        (
            "413",
            "The request body is larger than the server's limit (code `invalid_argument`, field `\"\"`), or `too_large`: the change would take a document past its size limit (nothing was changed).",
        ),
        (
            "429",
            "`rate_limited`: too many attempts; retry after `retry_after` seconds (also the `Retry-After` header).",
        ),
        ("500", "`internal`: a server bug; nothing was changed."),
        (
            "503",
            "`unavailable`: the database is unreachable; nothing was changed, retry later.",
        ),
    ] {
        let mut r = json!({
            "description": description,
            "content": { "application/json": { "schema": envelope } },
        });
        let header = match status {
            "401" => Some(("WWW-Authenticate", "`Bearer`", json!({ "type": "string" }))),
            "429" => Some((
                "Retry-After",
                "Seconds to wait before retrying.",
                json!({ "type": "integer", "minimum": 0 }),
            )),
            _ => None,
        };
        if let (Value::Object(r), Some((name, description, schema))) = (&mut r, header) {
            r.insert(
                "headers".into(),
                json!({ name: { "description": description, "schema": schema } }),
            );
        }
        out.insert(response_name(status).into(), r);
    }
    Value::Object(out)
}

/// The `#/components/responses` name for an error status.
pub(super) fn response_name(status: &str) -> &'static str {
    match status {
        "400" => "InvalidArgument",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "NotFound",
        "409" => "Conflict",
        "413" => "PayloadTooLarge",
        "429" => "RateLimited",
        "503" => "Unavailable",
        _ => "Internal",
    }
}
