//! Idempotency keys through the operation registry, on SQLite and Postgres:
//! replay, other params refused, concurrent retries run once, keys scoped to
//! their caller, bad keys named.

mod support;

use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;
use support::tenancy_world::{as_user, code, user, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_refuse_other_params_and_run_once() {
    each_backend(|db: TestDb| async move {
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let me = as_user(&owner, false);
        let params = json!({ "name": "Once" });
        let first = w
            .registry
            .call(me.clone(), "business.create", params.clone(), Some("key-1"))
            .await
            .expect("first");
        // Same key, same params (keys in another order count as the same).
        let again = w
            .registry
            .call(
                me.clone(),
                "business.create",
                json!({ "name": "Once" }),
                Some("key-1"),
            )
            .await
            .expect("replay");
        assert_eq!(first, again, "[{}] the stored result is replayed", db.label);
        // Same key, other params: conflict, no side effect.
        let r = w
            .registry
            .call(
                me.clone(),
                "business.create",
                json!({ "name": "Twice" }),
                Some("key-1"),
            )
            .await;
        assert_eq!(code(&r), "conflict", "[{}]", db.label);
        // Concurrent calls with one fresh key: one business.
        let calls = (0..8).map(|_| {
            w.registry.call(
                me.clone(),
                "business.create",
                json!({ "name": "Race" }),
                Some("key-2"),
            )
        });
        let results = futures_util::future::join_all(calls).await;
        let ids: std::collections::BTreeSet<String> = results
            .iter()
            .map(|r| r.as_ref().expect("every retry gets the outcome")["id"].to_string())
            .collect();
        assert_eq!(ids.len(), 1, "[{}] one execution: {ids:?}", db.label);
        let list = w
            .call(&owner, "business.list", json!({}))
            .await
            .expect("list");
        let names: Vec<&str> = list["businesses"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|b| b["name"].as_str())
            .collect();
        assert_eq!(names, ["Once", "Race"], "[{}]", db.label);
        // A stored failure is replayed too, and a bad key is refused.
        let r1 = w
            .registry
            .call(
                me.clone(),
                "member.leave",
                json!({ "business_id": first["id"] }),
                Some("k3"),
            )
            .await;
        let r2 = w
            .registry
            .call(
                me.clone(),
                "member.leave",
                json!({ "business_id": first["id"] }),
                Some("k3"),
            )
            .await;
        assert_eq!(
            (code(&r1), code(&r2)),
            ("conflict", "conflict"),
            "[{}]",
            db.label
        );
        let long_key = "k".repeat(256);
        let r = w
            .registry
            .call(
                me.clone(),
                "business.create",
                json!({ "name": "x" }),
                Some(&long_key),
            )
            .await;
        assert!(
            matches!(&r, Err(OpError::InvalidArgument { field, .. }) if field == "idempotency_key"),
            "[{}] {r:?}",
            db.label
        );
        // Keys are the caller's own: another user with the same key runs anew.
        let other = user(&w, "other").await;
        let theirs = w
            .registry
            .call(
                as_user(&other, false),
                "business.create",
                json!({ "name": "Once" }),
                Some("key-1"),
            )
            .await
            .expect("other user's key");
        assert_ne!(theirs["id"], first["id"], "[{}]", db.label);
    })
    .await;
}

/// A call refused for a moment (`rate_limited` here: chat.send over its
/// per-user limit) does not consume its key: an offline-queued message retried
/// with the same key after the pause is sent, not refused again for 24 h.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_call_does_not_consume_its_key() {
    use goonline_engine::chat::ChatLimits;
    use std::time::Duration;
    use support::chat_world::chat_world;

    each_backend(|db: TestDb| async move {
        let limits = ChatLimits {
            send_burst: 1,
            send_window: Duration::from_millis(300),
            ..ChatLimits::default()
        };
        let w = chat_world(&db, limits).await;
        let owner = user(&w, "owner").await;
        let business = w.shop(&owner, &[]).await;
        let channel = w
            .call(
                &owner,
                "chat.channel.create",
                json!({ "business_id": business, "name": "general" }),
            )
            .await
            .expect("channel");
        let send = async |client_id: &str, key: &str| {
            w.registry
                .call(
                    as_user(&owner, false),
                    "chat.send",
                    json!({ "chat_id": channel["id"], "client_id": client_id, "body": client_id }),
                    Some(key),
                )
                .await
        };
        send("m1", "key-m1").await.expect("first message");
        let refused = send("m2", "key-m2").await;
        assert_eq!(
            code(&refused),
            "rate_limited",
            "[{}] over the limit",
            db.label
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        let sent = send("m2", "key-m2")
            .await
            .unwrap_or_else(|e| panic!("[{}] the retry after the pause is sent: {e:?}", db.label));
        assert_eq!(sent["body"], "m2", "[{}]", db.label);
        // Now the key holds the success, replayed without a second message.
        let again = send("m2", "key-m2").await.expect("replay");
        assert_eq!(again["id"], sent["id"], "[{}]", db.label);
        let history = w
            .call(&owner, "chat.history", json!({ "chat_id": channel["id"] }))
            .await
            .expect("history");
        assert_eq!(
            history["messages"].as_array().map(Vec::len),
            Some(2),
            "[{}] two messages: {history}",
            db.label
        );
    })
    .await;
}
