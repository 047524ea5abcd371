//! A native-dialect client for the topic scenarios: connect, `hello` with a
//! token, `call` an operation and wait for its `reply`, and read the next
//! server frame. Setup and seeding use it; the measured clients read their
//! sockets themselves (see `fanout` and `replay`).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use goonline_protocol::native::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::connect::{Ws, connect};

/// How long setup waits for any one answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One native connection, signed in (or anonymous).
pub struct Native {
    /// The socket.
    pub ws: Ws,
    next_id: u64,
}

/// A `reply` that carried an error, or a socket problem.
#[derive(Debug, Clone)]
pub struct CallFailure {
    /// `rate_limited`, `conflict`, ... or `socket` / `timeout` for transport problems.
    pub code: String,
    /// What the server (or the socket) said.
    pub message: String,
    /// For `rate_limited`: seconds before a retry may succeed.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn transport(message: impl std::fmt::Display) -> CallFailure {
    CallFailure {
        code: "socket".into(),
        message: message.to_string(),
        retry_after: None,
    }
}

/// A binary frame with a native client frame.
pub fn frame(f: &ClientFrame) -> Message {
    Message::Binary(f.encode().into())
}

/// The `call` frame for `method` with `params` and correlation id `id`.
pub fn call_frame(id: u64, method: &str, params: Value) -> Message {
    frame(&ClientFrame::Call {
        id,
        method: method.into(),
        params,
        idempotency_key: None,
    })
}

impl Native {
    /// Connects to `url` (`ws://H/v1/ws`), says `hello` (with `token` if any)
    /// and waits for `welcome`.
    pub async fn open(url: &str, token: Option<&str>) -> Result<Native, CallFailure> {
        let ws = connect(url).await.map_err(transport)?;
        Native::hello(ws, token).await
    }

    /// Says `hello` on an open socket and waits for `welcome`.
    pub async fn hello(mut ws: Ws, token: Option<&str>) -> Result<Native, CallFailure> {
        ws.send(frame(&ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            client: Some("goonline-loadgen".into()),
            token: token.map(String::from),
        }))
        .await
        .map_err(transport)?;
        let mut c = Native { ws, next_id: 1 };
        loop {
            match c.next().await? {
                ServerFrame::Welcome { .. } => return Ok(c),
                ServerFrame::Error { code, message, .. } => {
                    return Err(CallFailure {
                        code: format!("{code:?}"),
                        message,
                        retry_after: None,
                    });
                }
                _ => continue,
            }
        }
    }

    /// The next server frame (pings and text skipped), within [`ANSWER_TIMEOUT`].
    pub async fn next(&mut self) -> Result<ServerFrame, CallFailure> {
        let wait = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Binary(b))) => {
                        return ServerFrame::decode(&b)
                            .map_err(|e| transport(format!("undecodable frame: {e}")));
                    }
                    Some(Ok(Message::Close(c))) => {
                        return Err(transport(format!("closed by the server: {c:?}")));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(transport(e)),
                    None => return Err(transport("socket closed")),
                }
            }
        };
        tokio::time::timeout(ANSWER_TIMEOUT, wait)
            .await
            .map_err(|_| CallFailure {
                code: "timeout".into(),
                message: format!("no frame within {} s", ANSWER_TIMEOUT.as_secs()),
                retry_after: None,
            })?
    }

    /// Runs `method` and returns its result (other frames in between are dropped).
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, CallFailure> {
        let id = self.next_id;
        self.next_id += 1;
        self.ws
            .send(call_frame(id, method, params))
            .await
            .map_err(transport)?;
        loop {
            if let ServerFrame::Reply {
                id: got,
                result,
                error,
            } = self.next().await?
                && got == id
            {
                return reply_result(method, result, error);
            }
        }
    }
}

/// A `reply`'s outcome as a `Result`.
pub fn reply_result(
    method: &str,
    result: Option<Value>,
    error: Option<goonline_protocol::native::CallError>,
) -> Result<Value, CallFailure> {
    match (result, error) {
        (_, Some(e)) => Err(CallFailure {
            code: e.code,
            message: format!("{method}: {}", e.message),
            retry_after: e.retry_after,
        }),
        (Some(v), None) => Ok(v),
        (None, None) => Ok(Value::Null),
    }
}

/// A string field of a JSON result, or an error naming it.
pub fn field(v: &Value, key: &str) -> Result<String, String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| format!("no `{key}` in {v}"))
}
