//! Setting up a chat channel to measure, over the native socket as a client
//! would: `auth.register` a fresh user, `business.create`, then
//! `chat.channel.create`; and seeding a channel with many messages through
//! `chat.send` on several pipelined sockets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use goonline_protocol::native::ServerFrame;
use serde_json::json;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::client::{Native, call_frame, field, reply_result};
use super::message::body;
use crate::swarm::rand_u32;

/// A signed-in user with a business and one fresh channel in it.
#[derive(Debug, Clone)]
pub struct World {
    /// The native socket URL (`ws://H/v1/ws`).
    pub url: String,
    /// The user's access token.
    pub token: String,
    /// The user's id.
    pub user_id: String,
    /// The business.
    pub business_id: String,
    /// The channel (a chat id).
    pub chat_id: String,
    /// The channel's topic, `biz/{business_id}/chat/{name}`.
    pub topic: String,
}

/// Registers a user, creates a business and a channel in it.
pub async fn world(url: &str) -> Result<World, String> {
    let tag = format!("{:08x}", rand_u32());
    let mut anon = Native::open(url, None)
        .await
        .map_err(|e| format!("cannot open a native socket at {url}: {e}"))?;
    let reg = anon
        .call(
            "auth.register",
            json!({
                "email": format!("lg{tag}@example.com"),
                "password": format!("loadgen-{tag}-password"),
                "display_name": format!("Loadgen {tag}"),
            }),
        )
        .await
        .map_err(|e| e.to_string())?;
    let token = field(&reg, "access_token")?;
    let user_id = reg
        .get("user")
        .and_then(|u| u.get("id"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let mut me = Native::open(url, Some(&token))
        .await
        .map_err(|e| format!("hello with the new token: {e}"))?;
    let biz = me
        .call("business.create", json!({ "name": format!("Bench {tag}") }))
        .await
        .map_err(|e| e.to_string())?;
    let business_id = field(&biz, "id")?;
    let chat = me
        .call(
            "chat.channel.create",
            json!({ "business_id": business_id, "name": format!("bench-{tag}") }),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(World {
        url: url.to_string(),
        token,
        user_id,
        business_id,
        chat_id: field(&chat, "id")?,
        topic: field(&chat, "topic")?,
    })
}

/// Sends `count` messages of `body_bytes` characters to the world's channel
/// through `chat.send`, spread over `sockets` connections keeping `window`
/// calls in flight each. A `rate_limited` reply is retried after its
/// `retry_after` with the same `client_id` (a resend appends nothing).
/// Returns how long it took.
pub async fn seed(
    w: &World,
    count: usize,
    body_bytes: usize,
    sockets: usize,
    window: usize,
) -> Result<Duration, String> {
    let start = std::time::Instant::now();
    let sockets = sockets.clamp(1, count.max(1));
    let mut tasks = JoinSet::new();
    for s in 0..sockets {
        let mine: Vec<usize> = (s..count).step_by(sockets).collect();
        let w = w.clone();
        tasks.spawn(async move { seed_one(&w, mine, body_bytes, window.max(1)).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| format!("seeding task failed: {e}"))??;
    }
    Ok(start.elapsed())
}

async fn seed_one(
    w: &World,
    indices: Vec<usize>,
    body_bytes: usize,
    window: usize,
) -> Result<(), String> {
    let c = Native::open(&w.url, Some(&w.token))
        .await
        .map_err(|e| format!("seeding socket: {e}"))?;
    let (mut sink, mut stream) = c.ws.split();
    let send = |i: usize| {
        call_frame(
            i as u64,
            "chat.send",
            json!({
                "chat_id": w.chat_id,
                "client_id": format!("seed-{i}"),
                "body": body(i as u64, 0, body_bytes),
            }),
        )
    };
    let mut next = 0;
    let mut in_flight = 0;
    let mut done = 0;
    while done < indices.len() {
        while in_flight < window && next < indices.len() {
            sink.feed(send(indices[next]))
                .await
                .map_err(|e| format!("seeding socket: {e}"))?;
            next += 1;
            in_flight += 1;
        }
        sink.flush()
            .await
            .map_err(|e| format!("seeding socket: {e}"))?;
        let msg = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .map_err(|_| "seeding: no reply within 60 s".to_string())?;
        let bytes = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(_)) => continue,
            other => return Err(format!("seeding socket closed: {other:?}")),
        };
        let Ok(ServerFrame::Reply { id, result, error }) = ServerFrame::decode(&bytes) else {
            continue;
        };
        match reply_result("chat.send", result, error) {
            Ok(_) => {
                in_flight -= 1;
                done += 1;
            }
            Err(e) if e.code == "rate_limited" => {
                tokio::time::sleep(Duration::from_secs(e.retry_after.unwrap_or(1).max(1))).await;
                sink.send(send(id as usize))
                    .await
                    .map_err(|e| format!("seeding socket: {e}"))?;
            }
            Err(e) => return Err(format!("seeding message {id}: {e}")),
        }
    }
    Ok(())
}
