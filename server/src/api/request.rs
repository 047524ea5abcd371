//! Reading a REST call: who is calling, its idempotency key, and its params
//! from the path, the query string or the JSON body.
//!
//! Written by hand rather than with axum's extractors so that every failure is
//! an [`OpError`] in the API's JSON shape (axum's rejections are plain text),
//! and none is a 500:
//!
//! - `Authorization: Bearer <token>` is verified; a header that is present but
//!   not a valid bearer token is `401` even for public operations. No header:
//!   an anonymous caller.
//! - The body must be empty (no params) or a JSON object sent as
//!   `application/json` (or a `+json` type); anything else is `400
//!   invalid_argument` with field `""` (the body as a whole).
//! - Query strings and path segments give strings; each operation's params
//!   accept strings where a query string must carry a number.

use axum::body::Body;
use axum::extract::{FromRequestParts, Query, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use goonline_engine::ops::{Caller, OpError, Transport};
use serde_json::{Map, Value};

use super::reply::Refusal;
use crate::http::body::{BodyError, read_limited};
use crate::identity::Identity;

/// The params of a call, as a JSON object.
pub type Params = Map<String, Value>;

/// The header carrying an idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Who is calling: the bearer token's user (verified), or anonymous; and the
/// client's address when the server was started with connect info.
pub async fn caller(identity: &Identity, parts: &Parts) -> Result<Caller, Refusal> {
    let ip = crate::http::peer::peer_ip(parts);
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Caller::anonymous(ip, Transport::Rest));
    };
    if values.next().is_some() {
        return Err(Refusal::invalid_token(OpError::Unauthorized(
            "send one Authorization header".into(),
        )));
    }
    let token = bearer_token(value).ok_or_else(|| {
        Refusal::invalid_token(OpError::Unauthorized(
            "the Authorization header must be `Bearer <access token>`".into(),
        ))
    })?;
    let auth = identity
        .authenticate(token)
        .await
        .map_err(Refusal::invalid_token)?;
    Ok(Caller {
        user: Some(auth.user),
        ip,
        via: Transport::Rest,
    })
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The `Idempotency-Key` header, if sent (the registry checks its length and
/// uses it on state-changing operations only).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OpError::invalid("idempotency_key", "send one Idempotency-Key header").into());
    }
    match value.to_str() {
        Ok(key) => Ok(Some(key.to_string())),
        Err(_) => Err(OpError::invalid(
            "idempotency_key",
            "the Idempotency-Key header must be visible ASCII",
        )
        .into()),
    }
}

/// The route's `{param}` segments, percent-decoded.
pub async fn path_params(parts: &mut Parts) -> Result<Vec<(String, String)>, Refusal> {
    let raw = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| OpError::invalid("", "the path is not valid UTF-8 once percent-decoded"))?;
    Ok(raw
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// The query string as params, each value a string. A name given twice is
/// refused rather than one of its values silently chosen.
pub fn query_params(uri: &Uri) -> Result<Params, Refusal> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|_| OpError::invalid("", "the query string is malformed"))?;
    let mut params = Params::new();
    for (name, value) in pairs {
        if params.contains_key(&name) {
            return Err(OpError::invalid(name, "given more than once in the query string").into());
        }
        params.insert(name, Value::String(value));
    }
    Ok(params)
}

/// The body as params: empty means none; otherwise a JSON object sent as
/// `application/json`, at most `limit` bytes.
pub async fn body_params(headers: &HeaderMap, body: Body, limit: usize) -> Result<Params, Refusal> {
    let bytes = read_limited(headers, body, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => Refusal::too_large(limit),
            BodyError::Read(_) => OpError::invalid("", e.to_string()).into(),
        })?;
    if bytes.is_empty() {
        return Ok(Params::new());
    }
    if !headers.get(header::CONTENT_TYPE).is_some_and(is_json) {
        return Err(OpError::invalid(
            "",
            "send the params as a JSON object with `Content-Type: application/json`",
        )
        .into());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(params)) => Ok(params),
        Ok(_) => Err(OpError::invalid("", "params must be an object").into()),
        Err(e) => Err(OpError::invalid("", format!("the body is not valid JSON: {e}")).into()),
    }
}

/// `application/json`, or a JSON-based type (`application/problem+json`),
/// with any parameters.
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(value) = content_type.to_str() else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    let Some(subtype) = mime
        .split_once('/')
        .filter(|(t, _)| t.eq_ignore_ascii_case("application"))
        .map(|(_, s)| s.to_ascii_lowercase())
    else {
        return false;
    };
    subtype == "json" || subtype.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_leniently_but_only_as_bearer() {
        let v = |s: &str| HeaderValue::from_str(s).expect("header");
        assert_eq!(bearer_token(&v("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&v("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&v("Basic abc")), None);
        assert_eq!(bearer_token(&v("Bearer")), None);
        assert_eq!(bearer_token(&v("Bearer ")), None);
    }

    #[test]
    fn json_content_types() {
        let v = |s: &str| HeaderValue::from_str(s).expect("header");
        assert!(is_json(&v("application/json")));
        assert!(is_json(&v("Application/JSON; charset=utf-8")));
        assert!(is_json(&v("application/merge-patch+json")));
        assert!(!is_json(&v("text/plain")));
        assert!(!is_json(&v("application/x-www-form-urlencoded")));
        assert!(!is_json(&v("text/json")));
    }

    #[test]
    fn query_strings_give_strings_and_refuse_repeats() {
        let uri: Uri = "/api/x?a=1&b=two%20words".parse().expect("uri");
        let p = query_params(&uri).expect("params");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "two words");
        let uri: Uri = "/api/x?a=1&a=2".parse().expect("uri");
        assert!(query_params(&uri).is_err());
        let uri: Uri = "/api/x".parse().expect("uri");
        assert!(query_params(&uri).expect("none").is_empty());
    }
}
