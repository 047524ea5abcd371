//! Who may do what in chat, on SQLite and Postgres: members read, viewers
//! write only when the business allows it, outsiders see nothing, direct
//! chats stay between their two participants, and oversized or flooding
//! messages are refused without being stored. (The shop helpers are the same
//! as in `chat.rs`.)

mod support;

use goonline_engine::EngineError;
use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;
use support::chat_world::{s, settle, shop};
use support::tenancy_world::code;
use support::topic_client::Follower;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_read_viewers_write_only_when_allowed_and_outsiders_see_nothing() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let b = t.business.clone();
        // Channel names are slugs, unique per business; viewers do not create.
        let r =
            t.w.call(
                &t.agent,
                "chat.channel.create",
                json!({ "business_id": b, "name": "Sales Team" }),
            )
            .await;
        assert!(
            matches!(&r, Err(OpError::InvalidArgument { field, .. }) if field == "name"),
            "[{l}] {r:?}"
        );
        let (general, topic) = t.channel(&t.agent, "general").await;
        let r =
            t.w.call(
                &t.owner,
                "chat.channel.create",
                json!({ "business_id": b, "name": "general" }),
            )
            .await;
        assert_eq!(code(&r), "conflict", "[{l}] {r:?}");
        let r =
            t.w.call(
                &t.viewer,
                "chat.channel.create",
                json!({ "business_id": b, "name": "mine" }),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
        let m = t
            .send(&t.agent, &general, "m1", "hello")
            .await
            .expect("agent sends");

        // An outsider: nothing exists.
        let o = &t.outsider;
        for (method, params) in [
            ("chat.list", json!({ "business_id": b })),
            (
                "chat.channel.create",
                json!({ "business_id": b, "name": "x" }),
            ),
            ("chat.history", json!({ "chat_id": general })),
            (
                "chat.send",
                json!({ "chat_id": general, "client_id": "o1", "body": "hi" }),
            ),
            ("chat.read", json!({ "chat_id": general, "seq": 1 })),
            (
                "chat.react",
                json!({ "message_id": m["id"], "emoji": "👍" }),
            ),
            ("chat.delete", json!({ "message_id": m["id"] })),
            (
                "chat.direct.open",
                json!({ "business_id": b, "user_id": t.agent }),
            ),
        ] {
            let r = t.w.call(o, method, params).await;
            assert_eq!(code(&r), "not_found", "[{l}] outsider {method}: {r:?}");
        }
        let mut f = Follower::connect(&t.w.engine, o);
        let r = f.subscribe(&topic, None).await;
        assert!(matches!(r, Err(EngineError::Forbidden(_))), "[{l}] {r:?}");
        // A channel that does not exist cannot be followed.
        let mut f = Follower::connect(&t.w.engine, &t.agent);
        let r = f.subscribe(&format!("biz/{b}/chat/nope"), None).await;
        assert!(
            matches!(r, Err(EngineError::UnknownTopic(_))),
            "[{l}] {r:?}"
        );

        // A viewer reads and follows, but does not write by default.
        let page = t.history(&t.viewer, &general).await.expect("viewer reads");
        assert_eq!(page["messages"][0]["body"], json!("hello"), "[{l}]");
        let mut viewer = Follower::connect(&t.w.engine, &t.viewer);
        viewer
            .subscribe(&topic, None)
            .await
            .expect("viewer follows");
        let r = t.send(&t.viewer, &general, "v1", "may I?").await;
        assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
        assert!(
            r.unwrap_err().to_string().contains("viewers_can_send"),
            "[{l}] says how"
        );
        let r =
            t.w.call(
                &t.viewer,
                "chat.react",
                json!({ "message_id": m["id"], "emoji": "👍" }),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
        // Only admins and owners change that.
        let allow = json!({ "business_id": b, "viewers_can_send": true });
        let r =
            t.w.call(&t.agent, "chat.settings.update", allow.clone())
                .await;
        assert_eq!(code(&r), "forbidden", "[{l}] {r:?}");
        let got =
            t.w.call(&t.viewer, "chat.settings.get", json!({ "business_id": b }))
                .await
                .expect("settings");
        assert_eq!(got["viewers_can_send"], json!(false), "[{l}]");
        t.w.call(&t.admin, "chat.settings.update", allow)
            .await
            .expect("admin allows viewers");
        let got =
            t.w.call(&t.viewer, "chat.settings.get", json!({ "business_id": b }))
                .await
                .expect("settings");
        assert_eq!(got["viewers_can_send"], json!(true), "[{l}]");
        let sent = t
            .send(&t.viewer, &general, "v1", "may I?")
            .await
            .expect("viewer sends");
        assert_eq!(sent["sender_id"], json!(t.viewer), "[{l}]");
        assert!(
            settle(&mut viewer, &topic, 2).await,
            "[{l}] {:?}",
            viewer.seen
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_chat_is_seen_by_its_two_participants_only() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let b = t.business.clone();
        let open = |who: String, with: String| {
            let w = &t.w;
            let b = b.clone();
            async move {
                w.call(
                    &who,
                    "chat.direct.open",
                    json!({ "business_id": b, "user_id": with }),
                )
                .await
            }
        };
        let dm = open(t.agent.clone(), t.agent2.clone()).await.expect("open");
        assert_eq!(dm["kind"], json!("direct"), "[{l}]");
        let mut pair = vec![t.agent.clone(), t.agent2.clone()];
        pair.sort();
        assert_eq!(dm["member_ids"], json!(pair), "[{l}]");
        let back = open(t.agent2.clone(), t.agent.clone())
            .await
            .expect("open back");
        assert_eq!(back["id"], dm["id"], "[{l}] one chat whoever opens it");
        // Both sides opening at the same moment still get one chat.
        let (x, y) = tokio::join!(
            open(t.owner.clone(), t.admin.clone()),
            open(t.admin.clone(), t.owner.clone())
        );
        let (x, y) = (x.expect("owner opens"), y.expect("admin opens"));
        assert_eq!(x["id"], y["id"], "[{l}] concurrent opens");
        // Not with outsiders, nor with oneself.
        let r = open(t.agent.clone(), t.outsider.clone()).await;
        assert_eq!(code(&r), "not_found", "[{l}] {r:?}");
        let r = open(t.agent.clone(), t.agent.clone()).await;
        assert!(
            matches!(&r, Err(OpError::InvalidArgument { field, .. }) if field == "user_id"),
            "[{l}] {r:?}"
        );

        let chat = s(&dm["id"]);
        let topic = s(&dm["topic"]);
        assert_eq!(topic, format!("biz/{b}/dm/{chat}"), "[{l}]");
        let mut other = Follower::connect(&t.w.engine, &t.agent2);
        other
            .subscribe(&topic, None)
            .await
            .expect("participant follows");
        let m = t
            .send(&t.agent, &chat, "d1", "just between us")
            .await
            .expect("send");
        assert!(settle(&mut other, &topic, 1).await, "[{l}]");
        assert_eq!(other.data(&topic)[0]["message"]["id"], m["id"], "[{l}]");

        // A third member, even the owner, sees nothing of it.
        for who in [&t.owner, &t.admin] {
            let r = t.history(who, &chat).await;
            assert_eq!(code(&r), "not_found", "[{l}] {r:?}");
            let r = t.send(who, &chat, "x", "hi").await;
            assert_eq!(code(&r), "not_found", "[{l}] {r:?}");
            let r =
                t.w.call(who, "chat.delete", json!({ "message_id": m["id"] }))
                    .await;
            assert_eq!(
                code(&r),
                "not_found",
                "[{l}] moderation stops at private chats: {r:?}"
            );
            let mut f = Follower::connect(&t.w.engine, who);
            let r = f.subscribe(&topic, None).await;
            assert!(r.is_err(), "[{l}] third member follows a direct chat");
            let list =
                t.w.call(who, "chat.list", json!({ "business_id": b }))
                    .await
                    .expect("list");
            assert!(
                !list["chats"]
                    .as_array()
                    .expect("chats")
                    .iter()
                    .any(|c| c["id"] == json!(chat)),
                "[{l}] listed for a third member: {list}"
            );
        }
        let list =
            t.w.call(&t.agent2, "chat.list", json!({ "business_id": b }))
                .await
                .expect("list");
        let mine = list["chats"]
            .as_array()
            .expect("chats")
            .iter()
            .find(|c| c["id"] == json!(chat))
            .expect("listed for a participant")
            .clone();
        assert_eq!(mine["unread"], json!(1), "[{l}] {mine}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_flooding_messages_are_refused_and_not_stored() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let t = shop(&db).await;
        let (general, _) = t.channel(&t.owner, "general").await;
        let r = t.send(&t.agent, &general, "big", &"x".repeat(4001)).await;
        assert!(
            matches!(&r, Err(OpError::InvalidArgument { field, .. }) if field == "body"),
            "[{l}] {r:?}"
        );
        for blank in ["", "   \n "] {
            let r = t.send(&t.agent, &general, "blank", blank).await;
            assert_eq!(code(&r), "invalid_argument", "[{l}] {blank:?}: {r:?}");
        }
        t.send(&t.agent, &general, "max", &"é".repeat(4000))
            .await
            .expect("4000 characters fit");
        // 20 messages in a burst (the one above included), then a pause.
        for i in 1..20 {
            t.send(&t.agent, &general, &format!("f{i}"), "spam")
                .await
                .unwrap_or_else(|e| panic!("[{l}] message {i}: {e:?}"));
        }
        let r = t.send(&t.agent, &general, "f20", "spam").await;
        match &r {
            Err(OpError::RateLimited { retry_after, .. }) => {
                assert!((1..=10).contains(retry_after), "[{l}] {retry_after}")
            }
            other => panic!("[{l}] flooding: {other:?}"),
        }
        // A retry of a stored message is not a new one: it still answers.
        let again = t.send(&t.agent, &general, "f3", "spam").await;
        assert_eq!(code(&again), "ok", "[{l}] {again:?}");
        // Others are not held back by the flooder.
        t.send(&t.admin, &general, "a1", "calm down")
            .await
            .expect("admin sends");
        let page =
            t.w.call(
                &t.owner,
                "chat.history",
                json!({ "chat_id": general, "limit": 100 }),
            )
            .await
            .expect("history");
        let msgs = page["messages"].as_array().expect("messages");
        assert_eq!(msgs.len(), 21, "[{l}] 20 from the agent, 1 from the admin");
        assert!(
            !msgs
                .iter()
                .any(|m| m["client_id"] == json!("f20") || m["client_id"] == json!("big")),
            "[{l}] a refused message is not stored"
        );
    })
    .await;
}
