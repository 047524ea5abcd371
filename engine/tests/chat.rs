//! Chat messages on SQLite and Postgres, as their users notice them: a
//! message resent by a flaky client arrives once and keeps its text exactly,
//! edits and deletions by the right people (tombstones everyone sees),
//! reactions counted, and a live follower seeing every change in order. Who
//! may do what, direct chats and limits are in `chat_access.rs`; history pages
//! and unread counts in `chat_history.rs`.

mod support;

use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use support::chat_world::{Shop, s, settle, shop};
use support::tenancy_world::code;
use support::topic_client::Follower;

impl Shop {
    async fn react(&self, who: &str, message: &str, emoji: &str, on: bool) -> Value {
        self.w
            .call(
                who,
                "chat.react",
                json!({ "message_id": message, "emoji": emoji, "on": on }),
            )
            .await
            .expect("react")
    }
}

fn types(data: &[Value]) -> Vec<String> {
    data.iter().map(|d| s(&d["type"])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_message_arrives_once_and_keeps_its_text_exactly() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (general, topic) = t.channel(&t.agent, "general").await;
        let mut follower = Follower::connect(&t.w.engine, &t.admin);
        follower
            .subscribe(&topic, None)
            .await
            .expect("admin follows");

        // Kept exactly: surrounding spaces, markup, line breaks.
        let body = "  <b>Hi</b> & welcome <script>x()</script>\n\tsecond line  ";
        let first = t.send(&t.agent, &general, "c-1", body).await.expect("send");
        assert_eq!(first["body"], json!(body), "[{l}] body kept verbatim");
        assert_eq!(first["seq"], json!(1), "[{l}]");
        assert_eq!(first["client_id"], json!("c-1"), "[{l}]");
        // The connection dropped before the reply: the client resends.
        let again = t
            .send(&t.agent, &general, "c-1", body)
            .await
            .expect("resend");
        assert_eq!(again["id"], first["id"], "[{l}] the same message");
        assert_eq!(again["seq"], first["seq"], "[{l}]");
        // The same client id for another text is a client bug, not a resend.
        let other = t.send(&t.agent, &general, "c-1", "something else").await;
        assert_eq!(code(&other), "conflict", "[{l}] {other:?}");
        // Another sender may use the same client id.
        let owners = t
            .send(&t.owner, &general, "c-1", "hello")
            .await
            .expect("owner");
        assert_ne!(owners["id"], first["id"], "[{l}]");

        assert!(
            settle(&mut follower, &topic, 2).await,
            "[{l}] both messages delivered"
        );
        let seen = follower.data(&topic);
        assert_eq!(
            types(&seen),
            ["message.created", "message.created"],
            "[{l}] one event per message, none for the resend: {seen:?}"
        );
        assert_eq!(seen[0]["message"]["id"], first["id"], "[{l}]");
        assert_eq!(seen[0]["message"]["body"], json!(body), "[{l}]");
        assert_eq!(seen[1]["message"]["id"], owners["id"], "[{l}]");
        assert_eq!(follower.seqs(&topic), [1, 2], "[{l}]");
        let page = t.history(&t.viewer, &general).await.expect("history");
        let ids: Vec<&Value> = page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| &m["id"])
            .collect();
        assert_eq!(
            ids,
            [&owners["id"], &first["id"]],
            "[{l}] newest first, stored once"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_edit_their_messages_and_moderators_delete_any() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (general, _) = t.channel(&t.owner, "general").await;
        let m = t
            .send(&t.agent, &general, "m1", "price is 500")
            .await
            .expect("send");
        let id = s(&m["id"]);
        let edit = |who: String, body: &'static str| {
            let w = &t.w;
            let id = id.clone();
            async move {
                w.call(&who, "chat.edit", json!({ "message_id": id, "body": body }))
                    .await
            }
        };
        let delete = |who: String| {
            let w = &t.w;
            let id = id.clone();
            async move {
                w.call(&who, "chat.delete", json!({ "message_id": id }))
                    .await
            }
        };
        // Nobody else edits your words, not even the owner.
        for who in [&t.owner, &t.admin, &t.agent2] {
            let r = edit(who.clone(), "price is 5").await;
            assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
        }
        // Someone outside the business does not even see it.
        let r = edit(t.outsider.clone(), "price is 5").await;
        assert_eq!(code(&r), "not_found", "[{l}] {r:?}");
        let edited = edit(t.agent.clone(), "price is 450")
            .await
            .expect("own edit");
        assert_eq!(edited["body"], json!("price is 450"), "[{l}]");
        assert!(edited["edited_at"].is_i64(), "[{l}] {edited}");
        // Another agent may not delete it; the viewer neither.
        for who in [&t.agent2, &t.viewer] {
            let r = delete(who.clone()).await;
            assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
        }
        // An admin moderates.
        let gone = delete(t.admin.clone()).await.expect("admin deletes");
        assert_eq!(gone["body"], json!(""), "[{l}]");
        assert_eq!(gone["deleted_by"], json!(t.admin), "[{l}]");
        assert!(gone["deleted_at"].is_i64(), "[{l}]");
        // Deleted is final: no edit; deleting again changes nothing.
        let r = edit(t.agent.clone(), "back again").await;
        assert_eq!(code(&r), "conflict", "[{l}] {r:?}");
        let again = delete(t.agent.clone()).await.expect("delete again");
        assert_eq!(
            again["deleted_by"],
            json!(t.admin),
            "[{l}] still the admin's deletion"
        );
        assert_eq!(again["deleted_at"], gone["deleted_at"], "[{l}]");
        // Everyone sees the tombstone where the message was.
        let page = t.history(&t.viewer, &general).await.expect("history");
        let msgs = page["messages"].as_array().expect("messages");
        assert_eq!(msgs.len(), 1, "[{l}]");
        assert_eq!(msgs[0]["id"], json!(id), "[{l}]");
        assert_eq!(msgs[0]["body"], json!(""), "[{l}]");
        assert_eq!(msgs[0]["deleted_by"], json!(t.admin), "[{l}]");
        // A sender deletes their own; the moderation alone is audited.
        let own = t
            .send(&t.agent, &general, "m2", "oops")
            .await
            .expect("send");
        let r =
            t.w.call(&t.agent, "chat.delete", json!({ "message_id": own["id"] }))
                .await
                .expect("own delete");
        assert_eq!(r["deleted_by"], json!(t.agent), "[{l}]");
        let audited: Vec<(String, String)> = sqlx::query_as(
            "SELECT actor, target FROM audit_log WHERE action = 'chat.message.deleted'",
        )
        .fetch_all(t.w.db.pool())
        .await
        .expect("audit");
        assert_eq!(audited, [(t.admin.clone(), id.clone())], "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_counted_per_emoji_with_the_callers_own() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (general, topic) = t.channel(&t.owner, "general").await;
        let m = t.send(&t.owner, &general, "m1", "new stock in").await.expect("send");
        let id = s(&m["id"]);
        let mut follower = Follower::connect(&t.w.engine, &t.viewer);
        follower.subscribe(&topic, Some(1)).await.expect("viewer follows");

        assert_eq!(t.react(&t.agent, &id, "👍", true).await["changed"], json!(true), "[{l}]");
        assert_eq!(t.react(&t.admin, &id, "👍", true).await["changed"], json!(true), "[{l}]");
        let r = t.react(&t.admin, &id, "❤️", true).await;
        assert_eq!(r["changed"], json!(true), "[{l}]");
        assert_eq!(
            r["reactions"],
            json!([
                { "emoji": "👍", "count": 2, "mine": true },
                { "emoji": "❤️", "count": 1, "mine": true },
            ]),
            "[{l}]"
        );
        // Reacting twice is one reaction.
        assert_eq!(t.react(&t.admin, &id, "👍", true).await["changed"], json!(false), "[{l}]");
        let page = t.history(&t.agent, &general).await.expect("history");
        assert_eq!(
            page["messages"][0]["reactions"],
            json!([
                { "emoji": "👍", "count": 2, "mine": true },
                { "emoji": "❤️", "count": 1, "mine": false },
            ]),
            "[{l}] as the agent sees them"
        );
        let r = t.react(&t.admin, &id, "👍", false).await;
        assert_eq!(r["changed"], json!(true), "[{l}]");
        assert_eq!(t.react(&t.admin, &id, "👍", false).await["changed"], json!(false), "[{l}]");
        let page = t.history(&t.admin, &general).await.expect("history");
        assert_eq!(
            page["messages"][0]["reactions"],
            json!([
                { "emoji": "👍", "count": 1, "mine": false },
                { "emoji": "❤️", "count": 1, "mine": true },
            ]),
            "[{l}] after the admin took back 👍"
        );
        let long = t
            .w
            .call(
                &t.agent,
                "chat.react",
                json!({ "message_id": id, "emoji": "x".repeat(33), "on": true }),
            )
            .await;
        assert!(
            matches!(&long, Err(OpError::InvalidArgument { field, .. }) if field == "emoji"),
            "[{l}] {long:?}"
        );
        // One event per change, none for the no-ops.
        assert!(settle(&mut follower, &topic, 4).await, "[{l}] {:?}", follower.seen);
        let seen = follower.data(&topic);
        assert_eq!(
            types(&seen),
            ["reaction.added", "reaction.added", "reaction.added", "reaction.removed"],
            "[{l}]"
        );
        assert_eq!(
            seen[3],
            json!({ "type": "reaction.removed", "message_id": id, "user_id": t.admin, "emoji": "👍" }),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_sees_every_change_in_order_live_and_on_replay() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (general, topic) = t.channel(&t.owner, "general").await;
        let mut live = Follower::connect(&t.w.engine, &t.viewer);
        live.subscribe(&topic, None).await.expect("follow");
        let a = t.send(&t.agent, &general, "a", "first").await.expect("a");
        let b = t.send(&t.agent2, &general, "b", "second").await.expect("b");
        t.w.call(
            &t.agent,
            "chat.edit",
            json!({ "message_id": a["id"], "body": "first!" }),
        )
        .await
        .expect("edit");
        t.react(&t.owner, &s(&b["id"]), "🎉", true).await;
        t.react(&t.owner, &s(&b["id"]), "🎉", false).await;
        t.w.call(&t.admin, "chat.delete", json!({ "message_id": a["id"] }))
            .await
            .expect("delete");
        assert!(settle(&mut live, &topic, 6).await, "[{l}] {:?}", live.seen);
        assert_eq!(live.seqs(&topic), [1, 2, 3, 4, 5, 6], "[{l}]");
        let seen = live.data(&topic);
        assert_eq!(
            types(&seen),
            [
                "message.created",
                "message.created",
                "message.edited",
                "reaction.added",
                "reaction.removed",
                "message.deleted"
            ],
            "[{l}]"
        );
        assert_eq!(
            seen[0],
            json!({ "type": "message.created", "message": {
                "id": a["id"], "chat_id": general, "sender_id": t.agent, "body": "first",
                "created_at": a["created_at"], "client_id": "a", "seq": 1,
            }}),
            "[{l}]"
        );
        let edited = t.history(&t.owner, &general).await.expect("history")["messages"][1].clone();
        assert_eq!(edited["id"], a["id"], "[{l}]");
        assert_eq!(
            seen[2],
            json!({ "type": "message.edited", "message_id": a["id"], "body": "first!",
                    "edited_at": seen[2]["edited_at"] }),
            "[{l}]"
        );
        assert!(seen[2]["edited_at"].is_i64(), "[{l}]");
        assert_eq!(
            seen[5],
            json!({ "type": "message.deleted", "message_id": a["id"],
                    "deleted_at": edited["deleted_at"], "deleted_by": t.admin }),
            "[{l}] the event and the tombstone agree"
        );
        // Someone arriving later replays the same changes in the same order,
        // without the deleted message's text.
        let mut late = Follower::connect(&t.w.engine, &t.agent2);
        late.subscribe(&topic, Some(0)).await.expect("replay");
        let mut expected = seen.clone();
        expected[0]["message"]["body"] = json!("");
        expected[0]["redacted"] = json!(true);
        expected[2]["body"] = json!("");
        expected[2]["redacted"] = json!(true);
        assert_eq!(late.data(&topic), expected, "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_text_is_gone_from_history_and_replays_too() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (chat, topic) = t.channel(&t.agent, "general").await;
        let m = t
            .send(&t.agent, &chat, "m1", "my phone number is 0700 000 000")
            .await
            .expect("send");
        let id = s(&m["id"]);
        t.w.call(
            &t.agent,
            "chat.edit",
            json!({ "message_id": id, "body": "call me on 0700 111 111" }),
        )
        .await
        .expect("edit");
        t.send(&t.agent, &chat, "m2", "an unrelated message")
            .await
            .expect("send");
        t.w.call(&t.admin, "chat.delete", json!({ "message_id": id }))
            .await
            .expect("moderator deletes");

        let page =
            t.w.call(&t.viewer, "topic.events", json!({ "topic": topic }))
                .await
                .expect("history");
        let text = page.to_string();
        assert!(
            !text.contains("0700"),
            "[{l}] deleted text still readable: {text}"
        );
        assert!(
            text.contains("an unrelated message"),
            "[{l}] other messages untouched"
        );
        let events = page["events"].as_array().expect("events");
        assert_eq!(events.len(), 4, "[{l}] created, edited, other, deleted");
        assert_eq!(events[0]["data"]["redacted"], json!(true), "[{l}]");
        assert_eq!(events[0]["data"]["message"]["body"], json!(""), "[{l}]");
        assert_eq!(events[1]["data"]["body"], json!(""), "[{l}]");
        assert_eq!(events[3]["data"]["type"], json!("message.deleted"), "[{l}]");
        // A replay shows the same.
        let mut f = Follower::connect(&t.w.engine, &t.viewer);
        f.subscribe(&topic, None).await.expect("subscribe");
        assert!(!format!("{:?}", f.data(&topic)).contains("0700"), "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_resend_is_answered_after_the_sender_lost_the_right_to_send() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (chat, _) = t.channel(&t.owner, "general").await;
        let settings = |on: bool| json!({ "business_id": t.business, "viewers_can_send": on });
        t.w.call(&t.owner, "chat.settings.update", settings(true))
            .await
            .expect("allow");
        let sent = t
            .send(&t.viewer, &chat, "q1", "sent while allowed")
            .await
            .expect("send");
        t.w.call(&t.owner, "chat.settings.update", settings(false))
            .await
            .expect("disallow");
        // The offline queue resends it: it was accepted, so it is answered.
        let again = t
            .send(&t.viewer, &chat, "q1", "sent while allowed")
            .await
            .expect("resend");
        assert_eq!(again["id"], sent["id"], "[{l}]");
        // A new message is refused.
        let r = t.send(&t.viewer, &chat, "q2", "new").await;
        assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
    })
    .await;
}
