//! A world with comment threads, and helpers for reading their results.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use goonline_engine::access::NamespacePolicy;
use goonline_engine::comments::{self, Comments};
use goonline_engine::testing::TestDb;
use goonline_engine::topics::TopicsConfig;
use serde_json::Value;

use super::tenancy_world::{World, user, world_with};
use super::topic_client::Follower;

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn comments_world(db: &TestDb) -> World {
    world_with(
        db,
        TopicsConfig::default(),
        |kinds, db| {
            comments::register_kinds(kinds, Arc::new(NamespacePolicy::new(db.clone(), false)))
        },
        |ops, parts| {
            Comments::new(
                parts.db.clone(),
                parts.topics.clone(),
                Arc::new(NamespacePolicy::new(parts.db.clone(), false)),
            )
            .register_ops(ops)
        },
    )
    .await
}

/// A shop with an owner, an admin, a viewer, and an outsider (no member):
/// (world, business, owner, admin, viewer, outsider).
pub async fn shop_world(db: &TestDb) -> (World, String, String, String, String, String) {
    let w = comments_world(db).await;
    let owner = user(&w, "owner").await;
    let admin = user(&w, "admin").await;
    let viewer = user(&w, "viewer").await;
    let outsider = user(&w, "outsider").await;
    let b = w
        .shop(&owner, &[("admin", "admin"), ("viewer", "viewer")])
        .await;
    (w, b, owner, admin, viewer, outsider)
}

pub fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {v}"))
        .to_string()
}

pub fn field(r: &Result<Value, goonline_engine::ops::OpError>) -> Option<String> {
    r.as_ref().err().and_then(|e| e.body().field)
}

/// The `type` of each event `f` saw on `topic`.
pub fn types(f: &Follower, topic: &str) -> Vec<String> {
    f.data(topic).iter().map(|d| s(d, "type")).collect()
}

pub async fn last_seq(w: &World, topic: &str) -> u64 {
    w.topics.bounds(topic).await.expect("bounds").1
}

/// `who` opens a thread on `doc` with `body`; returns the thread.
pub async fn create_thread(w: &World, who: &str, doc: &str, body: &str) -> Value {
    w.call(
        who,
        "comment.thread.create",
        serde_json::json!({ "doc": doc, "body": body }),
    )
    .await
    .expect("thread created")
}
