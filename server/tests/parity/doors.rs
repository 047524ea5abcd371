//! The two doors of an operation — REST at `/api/ops/{method}` and the native
//! socket — and what each answered, read into one `Outcome`.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde_json::Value;

use crate::common::Peer;
use crate::common::http::{self, Response};

/// What one door answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Value),
    Err {
        code: String,
        message: String,
        field: Option<String>,
        retry_after: Option<u64>,
    },
}

impl Outcome {
    /// `"ok"` or the error code.
    pub fn code(&self) -> &str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::Err { code, .. } => code,
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Outcome::Err { field, .. } => field.as_deref(),
            Outcome::Ok(_) => None,
        }
    }

    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Ok(v) => Some(v),
            Outcome::Err { .. } => None,
        }
    }

    /// A string inside the result, by JSON pointer.
    pub fn str_at(&self, pointer: &str) -> String {
        self.value()
            .and_then(|v| v.pointer(pointer))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {self:?}"))
            .to_string()
    }
}

/// The HTTP status REST must answer an error code with.
pub fn status_of(code: &str) -> u16 {
    match code {
        "ok" => 200,
        "invalid_argument" => 400,
        "unauthorized" => 401,
        "forbidden" => 403,
        "not_found" => 404,
        "conflict" => 409,
        "rate_limited" => 429,
        "unavailable" => 503,
        _ => 500,
    }
}

/// Reads a REST answer: the result on `200`, else the error body (whose shape
/// is checked: `{"error": {code, message, field?, retry_after?}}` and nothing
/// else).
fn rest_outcome(res: &Response) -> Outcome {
    let body = res.json();
    if res.status == 200 {
        return Outcome::Ok(body);
    }
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["error"], "error body shape: {body}");
    let e = body["error"].as_object().expect("error object");
    for k in e.keys() {
        assert!(
            ["code", "message", "field", "retry_after"].contains(&k.as_str()),
            "unexpected `{k}` in {body}"
        );
    }
    Outcome::Err {
        code: e["code"].as_str().expect("code").to_string(),
        message: e["message"].as_str().expect("message").to_string(),
        field: e
            .get("field")
            .map(|f| f.as_str().expect("field is a string").to_string()),
        retry_after: e.get("retry_after").map(|r| r.as_u64().expect("seconds")),
    }
}

/// Calls `method` over REST at `/api/ops/{method}`; `Null` params send no body.
pub async fn rest(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    params: &Value,
    key: Option<&str>,
) -> (u16, Outcome) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    let path = format!("/api/ops/{method}");
    let res = if params.is_null() {
        http::request(addr, "POST", &path, &headers, None).await
    } else {
        http::json(addr, "POST", &path, &headers, params).await
    };
    (res.status, rest_outcome(&res))
}

/// Native sockets, one per token (and one anonymous), opened on first use and
/// reopened if the server closed them.
pub struct Sockets {
    pub addr: SocketAddr,
    pub peers: HashMap<String, Peer>,
}

impl Sockets {
    pub fn new(addr: SocketAddr) -> Sockets {
        Sockets {
            addr,
            peers: HashMap::new(),
        }
    }

    /// Makes sure a live socket for `token` exists (before a REST call, so that
    /// signing the socket in happens outside the compared pair of calls).
    pub async fn ready(&mut self, token: Option<&str>) {
        let slot = token.unwrap_or("").to_string();
        if self.peers.get(&slot).is_some_and(|p| p.closed.is_none()) {
            return;
        }
        let peer = Peer::native_signed_in(self.addr, token).await;
        self.peers.insert(slot, peer);
    }

    pub async fn call(
        &mut self,
        token: Option<&str>,
        method: &str,
        params: &Value,
        key: Option<&str>,
    ) -> Outcome {
        self.ready(token).await;
        let peer = self.peers.get_mut(token.unwrap_or("")).expect("socket");
        match peer.call(method, params.clone(), key).await {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err {
                code: e.code,
                message: e.message,
                field: e.field,
                retry_after: e.retry_after,
            },
        }
    }
}
