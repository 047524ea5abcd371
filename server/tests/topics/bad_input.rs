//! Bad input on topic frames: each gets an `error` naming the topic (or a
//! `bad_frame` for a frame that does not decode), and the connection goes on.

use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::{ClientFrame, ServerFrame};
use serde_json::json;

use crate::common::accounts::{Shop, server};
use crate::common::{Peer, WAIT};

fn has_error(p: &Peer, code: &str, topic: Option<&str>) -> bool {
    p.errors.iter().any(|e| match e {
        ServerFrame::Error {
            code: c, topic: t, ..
        } => c.as_str() == code && t.as_deref() == topic,
        _ => false,
    })
}

pub async fn bad_topic_frames_get_clear_errors_and_the_connection_goes_on() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = server(db).await;
        let shop = Shop::open(server.addr).await;
        let mut p = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;

        // `since` that is not a number: the frame does not decode.
        let raw = rmp_serde::to_vec_named(&json!({ "type": "sub", "topic": "x", "since": "yesterday" }))
            .expect("encode");
        p.send(raw).await;
        assert!(p.until(WAIT, |p| has_error(p, "bad_frame", None)).await, "[{l}] {:?}", p.errors);

        let unknown = format!("biz/{}/nosuchkind/x", shop.business);
        assert!(!p.sub(&unknown, None).await, "[{l}]");
        assert!(has_error(&p, "unknown_topic", Some(&unknown)), "[{l}] {:?}", p.errors);
        assert!(!p.sub("no-namespace", None).await, "[{l}]");
        assert!(has_error(&p, "unknown_topic", Some("no-namespace")), "[{l}]");
        let other = "biz/someone-else/metrics/x";
        assert!(!p.sub(other, None).await, "[{l}]");
        assert!(has_error(&p, "forbidden", Some(other)), "[{l}] {:?}", p.errors);

        let tile = format!("biz/{}/metrics/x", shop.business);
        p.presence(&tile, json!({ "typing": true })).await;
        assert!(p.until(WAIT, |p| has_error(p, "not_subscribed", Some(&tile))).await, "[{l}]");
        p.unsub(&tile).await;
        let count = |p: &Peer| p.errors.iter().filter(|e| matches!(e, ServerFrame::Error { code, .. } if code.as_str() == "not_subscribed")).count();
        assert!(p.until(WAIT, |p| count(p) == 2).await, "[{l}]");
        assert!(p.sub(&tile, None).await, "[{l}] a good sub still works");
        assert!(!p.sub(&tile, None).await, "[{l}]");
        assert!(has_error(&p, "already_subscribed", Some(&tile)), "[{l}]");
        p.unsub(&tile).await;
        assert!(
            p.until(WAIT, |p| p.frames.iter().any(|f| matches!(f, ServerFrame::Unsubscribed { topic, .. } if *topic == tile))).await,
            "[{l}] unsub is confirmed"
        );
        p.send(ClientFrame::Ping { ts: Some(7) }.encode()).await;
        assert!(p.until(WAIT, |p| p.pongs == 1).await, "[{l}] still connected");
        server.stop().await;
    })
    .await;
}

pub async fn a_flood_of_messages_is_rate_limited_and_every_accepted_one_is_kept() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = server(db).await;
        let shop = Shop::open(server.addr).await;
        let mut p = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        let c = p
            .call(
                "chat.channel.create",
                json!({ "business_id": shop.business, "name": "flood" }),
                None,
            )
            .await
            .expect("channel");
        let (chat, topic) = (c["id"].as_str().expect("id"), c["topic"].as_str().expect("t"));
        let mut watcher = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
        assert!(watcher.sub(topic, None).await, "[{l}]");

        let (mut accepted, mut limited) = (Vec::new(), 0);
        for i in 0..40 {
            match p
                .call(
                    "chat.send",
                    json!({ "chat_id": chat, "client_id": format!("f{i}"), "body": format!("spam {i}") }),
                    None,
                )
                .await
            {
                Ok(m) => accepted.push(m["seq"].as_u64().expect("seq")),
                Err(e) => {
                    assert_eq!(e.code, "rate_limited", "[{l}] {e:?}");
                    assert!(e.retry_after.is_some_and(|s| s >= 1), "[{l}] {e:?}");
                    limited += 1;
                }
            }
        }
        assert!(limited > 0 && accepted.len() >= 20, "[{l}] {} accepted, {limited} limited", accepted.len());
        // Every accepted message is kept, and only those were announced.
        assert!(watcher.until_events(topic, accepted.len()).await, "[{l}]");
        watcher.until(std::time::Duration::from_millis(200), |_| false).await;
        assert_eq!(watcher.topic_seqs(topic), accepted, "[{l}]");
        let page = p
            .call("chat.history", json!({ "chat_id": chat, "limit": 100 }), None)
            .await
            .expect("history");
        assert_eq!(page["messages"].as_array().map(Vec::len), Some(accepted.len()), "[{l}]");

        // An oversized body is refused, naming the field (params are checked
        // before the rate limit, so this holds even now).
        let e = p
            .call(
                "chat.send",
                json!({ "chat_id": chat, "client_id": "big", "body": "x".repeat(4001) }),
                None,
            )
            .await
            .expect_err("too long");
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("invalid_argument", Some("body")),
            "[{l}] {e:?}"
        );
        server.stop().await;
    })
    .await;
}
