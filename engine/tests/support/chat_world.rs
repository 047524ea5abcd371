//! A shop for chat tests: one member per role, a second agent and an
//! outsider, on a world with chat's kinds and operations; and helpers to read
//! results and wait for events.

#![allow(dead_code)]

use std::time::Duration;

use goonline_engine::chat::{self, Chat, ChatLimits};
use goonline_engine::ops::OpError;
use goonline_engine::testing::TestDb;
use goonline_engine::topics::TopicsConfig;
use serde_json::{Value, json};

use super::WAIT;
use super::tenancy_world::{World, user, world_with};
use super::topic_client::{Follower, Seen};

/// A shop with one member per role, a second agent, and an outsider.
pub struct Shop {
    pub w: World,
    pub business: String,
    pub owner: String,
    pub admin: String,
    pub agent: String,
    pub agent2: String,
    pub viewer: String,
    pub outsider: String,
}

/// A world with chat's kinds and operations under `limits`.
pub async fn chat_world(db: &TestDb, limits: ChatLimits) -> World {
    world_with(
        db,
        TopicsConfig::default(),
        chat::register_kinds,
        move |ops, parts| {
            Chat::with_limits(
                parts.db.clone(),
                parts.topics.clone(),
                parts.audit.clone(),
                limits,
            )
            .register_ops(ops)
        },
    )
    .await
}

pub async fn shop(db: &TestDb) -> Shop {
    let w = chat_world(db, ChatLimits::default()).await;
    let owner = user(&w, "owner").await;
    let admin = user(&w, "admin").await;
    let agent = user(&w, "agent").await;
    let agent2 = user(&w, "agent2").await;
    let viewer = user(&w, "viewer").await;
    let outsider = user(&w, "outsider").await;
    let business = w
        .shop(
            &owner,
            &[
                ("admin", "admin"),
                ("agent", "agent"),
                ("agent2", "agent"),
                ("viewer", "viewer"),
            ],
        )
        .await;
    Shop {
        w,
        business,
        owner,
        admin,
        agent,
        agent2,
        viewer,
        outsider,
    }
}

impl Shop {
    /// Creates channel `name` as `who`: (chat id, topic).
    pub async fn channel(&self, who: &str, name: &str) -> (String, String) {
        let c = self
            .w
            .call(
                who,
                "chat.channel.create",
                json!({ "business_id": self.business, "name": name }),
            )
            .await
            .expect("channel created");
        (s(&c["id"]), s(&c["topic"]))
    }

    pub async fn send(
        &self,
        who: &str,
        chat: &str,
        client_id: &str,
        body: &str,
    ) -> Result<Value, OpError> {
        self.w
            .call(
                who,
                "chat.send",
                json!({ "chat_id": chat, "client_id": client_id, "body": body }),
            )
            .await
    }

    pub async fn history(&self, who: &str, chat: &str) -> Result<Value, OpError> {
        self.w
            .call(who, "chat.history", json!({ "chat_id": chat }))
            .await
    }
}

pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// Waits until `follower` has seen `n` events on `topic`, then a moment more
/// for any it should not get; true if it saw exactly `n`.
pub async fn settle(follower: &mut Follower, topic: &str, n: usize) -> bool {
    let count = |seen: &[Seen]| {
        seen.iter()
            .filter(|x| matches!(x, Seen::Event { topic: t, .. } if t == topic))
            .count()
    };
    follower.until(WAIT, |seen| count(seen) >= n).await;
    follower
        .until(Duration::from_millis(200), |seen| count(seen) > n)
        .await;
    follower.seqs(topic).len() == n
}
