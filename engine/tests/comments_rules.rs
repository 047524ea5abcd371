//! Comment threads on SQLite and Postgres, who may do what: non-members see
//! nothing, authors alone edit and delete (a deletion is a tombstone), and
//! bodies, anchors and document names are checked and kept exactly.

mod support;

use goonline_engine::EngineError;
use goonline_engine::comments::comment_topic;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use support::comments_world::*;
use support::tenancy_world::code;
use support::topic_client::Follower;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_members_get_not_found_and_cannot_subscribe() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (w, b, owner, _, _, outsider) = shop_world(&db).await;
        let doc = format!("biz/{b}/inventory");
        let topic = comment_topic(&doc).expect("topic");
        let t = create_thread(&w, &owner, &doc, "secret").await;
        let thread = s(&t, "id");
        let comment = s(&t["comments"][0], "id");

        for (method, params) in [
            ("comment.reply", json!({ "thread_id": thread, "body": "x" })),
            ("comment.resolve", json!({ "thread_id": thread })),
            ("comment.reopen", json!({ "thread_id": thread })),
            (
                "comment.edit",
                json!({ "comment_id": comment, "body": "x" }),
            ),
            ("comment.delete", json!({ "comment_id": comment })),
            ("comment.list", json!({ "doc": doc })),
            ("comment.thread.create", json!({ "doc": doc, "body": "x" })),
        ] {
            let r = w.call(&outsider, method, params).await;
            assert_eq!(code(&r), "not_found", "[{l}] {method}: {r:?}");
        }
        // The same answer as for an id that never existed.
        let unknown = w
            .call(
                &outsider,
                "comment.reply",
                json!({ "thread_id": "nope", "body": "x" }),
            )
            .await;
        let hidden = w
            .call(
                &outsider,
                "comment.reply",
                json!({ "thread_id": thread, "body": "x" }),
            )
            .await;
        assert_eq!(
            unknown
                .expect_err("unknown")
                .to_string()
                .replace("nope", &thread),
            hidden.expect_err("hidden").to_string(),
            "[{l}] nothing revealed"
        );

        let mut f = Follower::connect(&w.engine, &outsider);
        let refused = f.subscribe(&topic, None).await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "[{l}] {refused:?}"
        );
        assert!(f.data(&topic).is_empty(), "[{l}]");

        // A user's own documents have comments for that user alone.
        let mine = format!("user/{owner}/notes");
        let t = w
            .call(
                &owner,
                "comment.thread.create",
                json!({ "doc": mine, "body": "todo" }),
            )
            .await
            .expect("own doc");
        assert_eq!(
            comment_topic(&mine),
            Some(format!("user/{owner}/comments/notes")),
            "[{l}]"
        );
        let r = w
            .call(
                &outsider,
                "comment.resolve",
                json!({ "thread_id": s(&t, "id") }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}] {r:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_author_edits_and_deletes_and_a_deleted_comment_is_a_tombstone() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (w, b, owner, admin, _, _) = shop_world(&db).await;
        let doc = format!("biz/{b}/inventory");
        let topic = comment_topic(&doc).expect("topic");
        let t = create_thread(&w, &owner, &doc, "first").await;
        let thread = s(&t, "id");
        let r = w
            .call(
                &admin,
                "comment.reply",
                json!({ "thread_id": thread, "body": "secnod" }),
            )
            .await
            .expect("reply");
        let reply = s(&r, "id");

        for (method, params) in [
            (
                "comment.edit",
                json!({ "comment_id": reply, "body": "hijack" }),
            ),
            ("comment.delete", json!({ "comment_id": reply })),
        ] {
            let r = w.call(&owner, method, params).await;
            assert_eq!(code(&r), "forbidden", "[{l}] {method} by the owner: {r:?}");
        }

        let edited = w
            .call(
                &admin,
                "comment.edit",
                json!({ "comment_id": reply, "body": "second" }),
            )
            .await
            .expect("edit");
        assert_eq!(edited["body"], json!("second"), "[{l}]");
        assert!(edited["edited_at"].is_i64(), "[{l}]");
        assert_eq!(edited["created_at"], r["created_at"], "[{l}]");
        // The same text again: nothing to do.
        let before = last_seq(&w, &topic).await;
        w.call(
            &admin,
            "comment.edit",
            json!({ "comment_id": reply, "body": "second" }),
        )
        .await
        .expect("same edit");
        assert_eq!(last_seq(&w, &topic).await, before, "[{l}]");

        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, Some(before)).await.expect("subscribe");
        let deleted = w
            .call(&admin, "comment.delete", json!({ "comment_id": reply }))
            .await
            .expect("delete");
        assert_eq!(deleted["body"], json!(""), "[{l}] tombstone has no text");
        assert!(deleted["deleted_at"].is_i64(), "[{l}]");
        let after = last_seq(&w, &topic).await;
        let again = w
            .call(&admin, "comment.delete", json!({ "comment_id": reply }))
            .await
            .expect("delete again");
        assert_eq!(again, deleted, "[{l}] deleting again changes nothing");
        assert_eq!(last_seq(&w, &topic).await, after, "[{l}]");
        let r = w
            .call(
                &admin,
                "comment.edit",
                json!({ "comment_id": reply, "body": "back" }),
            )
            .await;
        assert_eq!(code(&r), "conflict", "[{l}] {r:?}");

        // The tombstone keeps its place in the thread.
        let list = w
            .call(&owner, "comment.list", json!({ "doc": doc }))
            .await
            .expect("list");
        let comments = list["threads"][0]["comments"].as_array().expect("comments");
        assert_eq!(comments.len(), 2, "[{l}]");
        assert_eq!(comments[1]["id"], json!(reply), "[{l}]");
        assert_eq!(comments[1]["body"], json!(""), "[{l}]");
        assert_eq!(comments[1]["deleted_at"], deleted["deleted_at"], "[{l}]");

        assert!(
            f.until(WAIT, |seen| seen.len() >= 2).await,
            "[{l}] {:?}",
            f.seen
        );
        assert_eq!(
            f.data(&topic),
            vec![json!({
                "type": "comment.deleted",
                "comment_id": reply,
                "thread_id": thread,
                "deleted_at": deleted["deleted_at"],
            })],
            "[{l}]"
        );
        // History keeps the edit event, but not the text of the comment that
        // was deleted since: every event about it is blanked.
        let history = w
            .call(&owner, "topic.events", json!({ "topic": topic }))
            .await
            .expect("history");
        let edit = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["data"]["type"] == json!("comment.edited"))
            .cloned()
            .expect("comment.edited");
        let mut blanked = edited.clone();
        blanked["body"] = json!("");
        assert_eq!(edit["data"]["comment"], blanked, "[{l}]");
        assert_eq!(edit["data"]["redacted"], json!(true), "[{l}]");
        let text = edited["body"].as_str().expect("body");
        assert!(!history.to_string().contains(text), "[{l}] {history}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_anchors_and_documents_are_checked_and_kept_exactly() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (w, b, owner, _, _, _) = shop_world(&db).await;
        let doc = format!("biz/{b}/inventory");
        let create = |params: Value| w.call(&owner, "comment.thread.create", params);

        let r = create(json!({ "doc": doc, "body": "x".repeat(4001) })).await;
        assert_eq!(code(&r), "invalid_argument", "[{l}] {r:?}");
        assert_eq!(field(&r).as_deref(), Some("body"), "[{l}]");
        for empty in ["", "  \n "] {
            let r = create(json!({ "doc": doc, "body": empty })).await;
            assert_eq!(field(&r).as_deref(), Some("body"), "[{l}] {empty:?}: {r:?}");
        }
        let r = create(json!({ "doc": doc, "anchor": "a".repeat(1025), "body": "x" })).await;
        assert_eq!(code(&r), "invalid_argument", "[{l}] {r:?}");
        assert_eq!(field(&r).as_deref(), Some("anchor"), "[{l}]");
        for bad in ["shop/inventory", "biz/b1", "biz//x", "inventory"] {
            let r = create(json!({ "doc": bad, "body": "x" })).await;
            assert_eq!(code(&r), "invalid_argument", "[{l}] {bad}: {r:?}");
            assert_eq!(field(&r).as_deref(), Some("doc"), "[{l}] {bad}");
            let r = w.call(&owner, "comment.list", json!({ "doc": bad })).await;
            assert_eq!(field(&r).as_deref(), Some("doc"), "[{l}] list {bad}");
        }

        // At the limits, and kept exactly: no trimming, no HTML handling.
        let body = format!("  <b>bold</b> & {}\n", "é".repeat(3983));
        assert_eq!(body.chars().count(), 4000);
        let anchor = "+/=".repeat(341) + "A";
        assert_eq!(anchor.chars().count(), 1024);
        let t = create(json!({ "doc": doc, "anchor": anchor, "body": body }))
            .await
            .unwrap_or_else(|e| panic!("[{l}] at the limits: {e:?}"));
        assert_eq!(t["anchor"], json!(anchor), "[{l}]");
        assert_eq!(t["comments"][0]["body"], json!(body), "[{l}]");
        let list = w
            .call(&owner, "comment.list", json!({ "doc": doc }))
            .await
            .expect("list");
        assert_eq!(list["threads"][0]["anchor"], json!(anchor), "[{l}] stored");
        assert_eq!(
            list["threads"][0]["comments"][0]["body"],
            json!(body),
            "[{l}]"
        );

        let thread = s(&t, "id");
        let r = w
            .call(
                &owner,
                "comment.reply",
                json!({ "thread_id": thread, "body": "y".repeat(4001) }),
            )
            .await;
        assert_eq!(field(&r).as_deref(), Some("body"), "[{l}] reply {r:?}");
        let r = w
            .call(
                &owner,
                "comment.reply",
                json!({ "thread_id": thread, "body": "a\u{0}b" }),
            )
            .await;
        assert_eq!(field(&r).as_deref(), Some("body"), "[{l}] NUL {r:?}");
        let r = w
            .call(
                &owner,
                "comment.edit",
                json!({ "comment_id": s(&t["comments"][0], "id"), "body": "" }),
            )
            .await;
        assert_eq!(field(&r).as_deref(), Some("body"), "[{l}] edit {r:?}");
        let r = w
            .call(
                &owner,
                "comment.list",
                json!({ "doc": doc, "include_resolved": "maybe" }),
            )
            .await;
        assert_eq!(
            field(&r).as_deref(),
            Some("include_resolved"),
            "[{l}] {r:?}"
        );
    })
    .await;
}
