//! Comment threads on SQLite and Postgres: threads with anchors, replies,
//! resolve and reopen, listing, the live events a member following the
//! document's comments topic sees, and who may do what (viewers read only,
//! non-members see nothing, authors alone edit and delete), with validation.

mod support;

use goonline_engine::comments::comment_topic;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use support::comments_world::*;
use support::tenancy_world::code;
use support::topic_client::{Follower, Seen};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_are_created_replied_resolved_reopened_and_listed_live() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (w, b, owner, admin, _, _) = shop_world(&db).await;
        let doc = format!("biz/{b}/plans/main");
        let topic = format!("biz/{b}/comments/plans/main");
        assert_eq!(comment_topic(&doc).as_deref(), Some(topic.as_str()));

        // A second member follows the document's comments before anything happens.
        let mut f = Follower::connect(&w.engine, &admin);
        f.subscribe(&topic, None).await.expect("admin subscribes");

        let anchor = "AQLI0Z3mBgAEAQ==";
        let t = w
            .call(
                &owner,
                "comment.thread.create",
                json!({ "doc": doc, "anchor": anchor, "body": "Is this price right?" }),
            )
            .await
            .unwrap_or_else(|e| panic!("[{l}] create: {e:?}"));
        let thread = s(&t, "id");
        assert_eq!(t["doc"], json!(doc), "[{l}]");
        assert_eq!(t["anchor"], json!(anchor), "[{l}] anchor kept as given");
        assert_eq!(t["created_by"], json!(owner), "[{l}]");
        assert_eq!(t["resolved_at"], Value::Null, "[{l}]");
        assert_eq!(t["comments"].as_array().map(Vec::len), Some(1), "[{l}]");
        assert_eq!(
            t["comments"][0]["body"],
            json!("Is this price right?"),
            "[{l}]"
        );

        let r = w
            .call(
                &admin,
                "comment.reply",
                json!({ "thread_id": thread, "body": "Yes, 2500 XAF." }),
            )
            .await
            .unwrap_or_else(|e| panic!("[{l}] reply: {e:?}"));
        assert_eq!(r["thread_id"], json!(thread), "[{l}]");
        assert_eq!(r["author_id"], json!(admin), "[{l}]");

        // A second thread on the whole document (no anchor).
        let t2 = create_thread(&w, &admin, &doc, "Ready to publish?").await;
        assert_eq!(t2["anchor"], Value::Null, "[{l}]");

        let resolved = w
            .call(&owner, "comment.resolve", json!({ "thread_id": thread }))
            .await
            .unwrap_or_else(|e| panic!("[{l}] resolve: {e:?}"));
        assert_eq!(resolved["resolved_by"], json!(owner), "[{l}]");
        assert!(resolved["resolved_at"].is_i64(), "[{l}]");
        assert_eq!(
            resolved["comments"].as_array().map(Vec::len),
            Some(2),
            "[{l}]"
        );

        // Resolving again changes nothing and appends no event.
        let before = last_seq(&w, &topic).await;
        let again = w
            .call(&admin, "comment.resolve", json!({ "thread_id": thread }))
            .await
            .expect("resolve again");
        assert_eq!(
            again["resolved_by"],
            json!(owner),
            "[{l}] still the first resolver"
        );
        assert_eq!(last_seq(&w, &topic).await, before, "[{l}] no event");

        // Resolved threads are hidden unless asked for; order is creation order.
        let list = w
            .call(&admin, "comment.list", json!({ "doc": doc }))
            .await
            .expect("list");
        let ids: Vec<String> = list["threads"]
            .as_array()
            .expect("threads")
            .iter()
            .map(|t| s(t, "id"))
            .collect();
        assert_eq!(ids, vec![s(&t2, "id")], "[{l}] resolved hidden by default");
        assert_eq!(list["topic"], json!(topic), "[{l}]");
        let all = w
            .call(
                &admin,
                "comment.list",
                json!({ "doc": doc, "include_resolved": "true" }),
            )
            .await
            .expect("list all");
        let threads = all["threads"].as_array().expect("threads");
        assert_eq!(threads.len(), 2, "[{l}]");
        assert_eq!(threads[0]["id"], json!(thread), "[{l}] oldest first");
        let bodies: Vec<String> = threads[0]["comments"]
            .as_array()
            .expect("comments")
            .iter()
            .map(|c| s(c, "body"))
            .collect();
        assert_eq!(bodies, ["Is this price right?", "Yes, 2500 XAF."], "[{l}]");

        let reopened = w
            .call(&admin, "comment.reopen", json!({ "thread_id": thread }))
            .await
            .expect("reopen");
        assert_eq!(reopened["resolved_at"], Value::Null, "[{l}]");
        assert_eq!(reopened["resolved_by"], Value::Null, "[{l}]");
        let before = last_seq(&w, &topic).await;
        w.call(&owner, "comment.reopen", json!({ "thread_id": thread }))
            .await
            .expect("reopen again");
        assert_eq!(last_seq(&w, &topic).await, before, "[{l}] no event");
        let list = w
            .call(&owner, "comment.list", json!({ "doc": doc }))
            .await
            .expect("list");
        assert_eq!(list["threads"].as_array().map(Vec::len), Some(2), "[{l}]");
        assert_eq!(list["last_seq"], json!(before), "[{l}]");

        // The follower saw every change, in order, with its data.
        let want = [
            "thread.created",
            "comment.added",
            "thread.created",
            "thread.resolved",
            "thread.reopened",
        ];
        assert!(
            f.until(WAIT, |seen| {
                seen.iter()
                    .filter(|x| matches!(x, Seen::Event { topic: t, .. } if *t == topic))
                    .count()
                    >= want.len()
            })
            .await,
            "[{l}] live events: {:?}",
            f.seen
        );
        assert_eq!(types(&f, &topic), want, "[{l}]");
        assert_eq!(f.seqs(&topic), vec![1, 2, 3, 4, 5], "[{l}]");
        let data = f.data(&topic);
        assert_eq!(
            data[0]["thread"], t,
            "[{l}] thread.created carries the thread"
        );
        assert_eq!(
            data[1]["comment"], r,
            "[{l}] comment.added carries the comment"
        );
        assert_eq!(data[3]["thread_id"], json!(thread), "[{l}]");
        assert_eq!(data[3]["by"], json!(owner), "[{l}]");
        assert_eq!(data[3]["at"], resolved["resolved_at"], "[{l}]");
        assert_eq!(data[4]["by"], json!(admin), "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_and_follow_comments_but_cannot_write_them() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (w, b, owner, _, viewer, _) = shop_world(&db).await;
        let doc = format!("biz/{b}/inventory");
        let topic = comment_topic(&doc).expect("topic");
        let t = create_thread(&w, &owner, &doc, "Count the rice").await;
        let thread = s(&t, "id");

        let list = w
            .call(&viewer, "comment.list", json!({ "doc": doc }))
            .await
            .expect("viewer lists");
        assert_eq!(list["threads"][0]["id"], json!(thread), "[{l}]");
        let mut f = Follower::connect(&w.engine, &viewer);
        f.subscribe(&topic, None).await.expect("viewer subscribes");
        assert_eq!(types(&f, &topic), ["thread.created"], "[{l}] replayed");

        let create = w
            .call(
                &viewer,
                "comment.thread.create",
                json!({ "doc": doc, "body": "hi" }),
            )
            .await;
        assert_eq!(code(&create), "forbidden", "[{l}] {create:?}");
        for (method, params) in [
            (
                "comment.reply",
                json!({ "thread_id": thread, "body": "me too" }),
            ),
            ("comment.resolve", json!({ "thread_id": thread })),
            ("comment.reopen", json!({ "thread_id": thread })),
        ] {
            let r = w.call(&viewer, method, params).await;
            assert_eq!(code(&r), "forbidden", "[{l}] {method}: {r:?}");
        }
        assert_eq!(last_seq(&w, &topic).await, 1, "[{l}] nothing appended");
    })
    .await;
}
