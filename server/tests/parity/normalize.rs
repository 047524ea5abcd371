//! Normalization of what legitimately differs between two calls: fresh tokens
//! and invitations, the times of twin targets, and the values substituted for each side's own
//! target.

use serde_json::{Value, json};

use crate::doors::Outcome;

/// Fresh on every call: compared only as "present" (`member.invite` makes a
/// new invitation, with its own id, token and expiry, at each door).
const ALWAYS_VOLATILE: [&str; 6] = [
    "access_token",
    "refresh_token",
    "exported_at",
    "token",
    "invitation_id",
    "expires_at",
];

/// Times that differ between twin targets made at different moments.
const TIMES: [&str; 8] = [
    "created_at",
    "updated_at",
    "last_used_at",
    "revoked_at",
    "at",
    "edited_at",
    "deleted_at",
    "resolved_at",
];

fn substitute(s: &str, subs: &[(String, String)]) -> String {
    subs.iter()
        .fold(s.to_string(), |acc, (from, to)| acc.replace(from, to))
}

fn normalize(v: &Value, subs: &[(String, String)], loose: bool) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let volatile = ALWAYS_VOLATILE.contains(&k.as_str())
                        || (loose && TIMES.contains(&k.as_str()));
                    let v = if volatile && !v.is_null() {
                        json!(format!("<{k}>"))
                    } else {
                        normalize(v, subs, loose)
                    };
                    (substitute(k, subs), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize(x, subs, loose)).collect()),
        Value::String(s) => Value::String(substitute(s, subs)),
        other => other.clone(),
    }
}

pub fn normalize_outcome(o: &Outcome, subs: &[(String, String)], loose: bool) -> Outcome {
    match o {
        Outcome::Ok(v) => Outcome::Ok(normalize(v, subs, loose)),
        Outcome::Err {
            code,
            message,
            field,
            retry_after,
        } => Outcome::Err {
            code: code.clone(),
            message: substitute(message, subs),
            field: field.as_deref().map(|f| substitute(f, subs)),
            retry_after: *retry_after,
        },
    }
}
