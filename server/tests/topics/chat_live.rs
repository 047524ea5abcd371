//! Chat over real sockets: a member who reconnects gets exactly the messages
//! it missed, then live ones; messages sent while others join are seen once
//! each, in order; an old `since` gets a gap; removal ends the subscription;
//! a resend after a reconnect is not a second message; typing is shared.

use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::ServerFrame;
use serde_json::{Value, json};

use crate::common::accounts::Shop;
use crate::common::{Peer, TestServer, WAIT};

async fn start(db: TestDb, trim_secs: u64, retention: Option<&str>) -> TestServer {
    let retention = retention.map(str::to_string);
    TestServer::start(db, move |a| {
        a.security.allow_anonymous_docs = false;
        a.topics.trim_secs = trim_secs;
        // These tests send faster than a person types.
        a.topics.chat_sends_per_10s = 1000;
        if let Some(r) = retention {
            a.topics.retention = vec![(
                "chat".into(),
                goonline_engine::topics::Retention::parse(&r).expect("retention"),
            )];
        }
    })
    .await
}

/// Creates channel `name`; returns (chat id, topic).
async fn channel(p: &mut Peer, shop: &Shop, name: &str) -> (String, String) {
    let c = p
        .call(
            "chat.channel.create",
            json!({ "business_id": shop.business, "name": name }),
            None,
        )
        .await
        .expect("channel");
    (
        c["id"].as_str().expect("id").into(),
        c["topic"].as_str().expect("topic").into(),
    )
}

async fn send(p: &mut Peer, chat: &str, client_id: &str, body: &str) -> Value {
    p.call(
        "chat.send",
        json!({ "chat_id": chat, "client_id": client_id, "body": body }),
        None,
    )
    .await
    .expect("send")
}

fn bodies(p: &Peer, topic: &str) -> Vec<String> {
    p.topic_events(topic)
        .into_iter()
        .filter(|(_, d)| d["type"] == "message.created")
        .map(|(_, d)| d["message"]["body"].as_str().expect("body").to_string())
        .collect()
}

pub async fn a_member_who_reconnects_gets_exactly_what_it_missed_then_live_messages() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = start(db, 300, None).await;
        let shop = Shop::open(server.addr).await;
        let mut owner = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        let (chat, topic) = channel(&mut owner, &shop, "general").await;
        send(&mut owner, &chat, "m1", "Stock count at 5pm").await;

        let mut member = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
        assert!(member.sub(&topic, None).await, "[{l}] {:?}", member.errors);
        assert_eq!(bodies(&member, &topic), vec!["Stock count at 5pm"], "[{l}]");
        let last = member.subscribed(&topic).expect("live");
        drop(member);

        for i in 0..25 {
            send(
                &mut owner,
                &chat,
                &format!("offline-{i}"),
                &format!("while away {i}"),
            )
            .await;
        }
        let mut member = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
        assert!(member.sub(&topic, Some(last)).await, "[{l}]");
        let missed: Vec<String> = (0..25).map(|i| format!("while away {i}")).collect();
        assert_eq!(
            bodies(&member, &topic),
            missed,
            "[{l}] exactly the missed ones, in order"
        );
        let seqs = member.topic_seqs(&topic);
        assert_eq!(seqs, (last + 1..=last + 25).collect::<Vec<_>>(), "[{l}]");
        send(&mut owner, &chat, "live-1", "back online?").await;
        assert!(member.until_events(&topic, 26).await, "[{l}]");
        assert_eq!(
            bodies(&member, &topic).last().map(String::as_str),
            Some("back online?"),
            "[{l}]"
        );
        server.stop().await;
    })
    .await;
}

pub async fn messages_sent_while_members_join_arrive_once_each_in_order() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = start(db, 300, None).await;
        let shop = Shop::open(server.addr).await;
        let mut owner = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        let (chat, topic) = channel(&mut owner, &shop, "busy").await;
        let (addr, token, chat2) = (server.addr, shop.owner.access.clone(), chat.clone());
        let sender = tokio::spawn(async move {
            let mut p = Peer::native_signed_in(addr, Some(&token)).await;
            for i in 0..18 {
                send(&mut p, &chat2, &format!("c{i}"), &format!("msg {i}")).await;
            }
        });
        let mut joiners = Vec::new();
        for k in 0..4u64 {
            tokio::time::sleep(Duration::from_millis(15 * k)).await;
            let mut p = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
            assert!(p.sub(&topic, None).await, "[{l}]");
            joiners.push(p);
        }
        sender.await.expect("sender");
        for mut p in joiners {
            assert!(
                p.until_events(&topic, 18).await,
                "[{l}] {:?}",
                p.topic_seqs(&topic)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            p.until(Duration::from_millis(50), |_| false).await;
            assert_eq!(
                p.topic_seqs(&topic),
                (1..=18).collect::<Vec<_>>(),
                "[{l}] once each, in order"
            );
        }
        server.stop().await;
    })
    .await;
}

pub async fn an_old_since_gets_a_gap_and_removal_ends_the_subscription() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = start(db, 1, Some("3")).await;
        let shop = Shop::open(server.addr).await;
        let mut owner = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        let (chat, topic) = channel(&mut owner, &shop, "ops").await;
        for i in 0..10 {
            send(&mut owner, &chat, &format!("g{i}"), "x").await;
        }
        // The retention pass runs every second: 7 events are dropped.
        let mut viewer = Peer::native_signed_in(server.addr, Some(&shop.viewer.access)).await;
        let gap = |p: &Peer| {
            p.frames.iter().find_map(|f| match f {
                ServerFrame::Gap { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
        };
        let mut ok = false;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let page = owner
                .call(
                    "topic.events",
                    json!({ "topic": topic, "after": 0, "limit": 1 }),
                    None,
                )
                .await
                .expect("history");
            if page["gap"]["to"] == 7 {
                ok = true;
                break;
            }
        }
        assert!(ok, "[{l}] retention trimmed the topic");
        assert!(viewer.sub(&topic, Some(1)).await, "[{l}] viewers may read");
        assert_eq!(gap(&viewer), Some((2, 7)), "[{l}] an explicit gap");
        assert_eq!(viewer.topic_seqs(&topic), vec![8, 9, 10], "[{l}]");

        owner
            .call(
                "member.remove",
                json!({ "business_id": shop.business, "user_id": shop.viewer.id }),
                None,
            )
            .await
            .expect("remove");
        assert!(
            viewer
                .until(WAIT, |p| p.frames.iter().any(
                    |f| matches!(f, ServerFrame::Unsubscribed { topic: t, .. } if *t == topic)
                ))
                .await,
            "[{l}] the subscription ends live: {:?}",
            viewer.frames
        );
        send(&mut owner, &chat, "after", "not for the removed").await;
        viewer.until(Duration::from_millis(300), |_| false).await;
        assert_eq!(
            viewer.topic_seqs(&topic),
            vec![8, 9, 10],
            "[{l}] nothing after removal"
        );
        server.stop().await;
    })
    .await;
}

pub async fn a_resend_after_reconnect_is_one_message_and_typing_is_shared() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let server = start(db, 300, None).await;
        let shop = Shop::open(server.addr).await;
        let mut owner = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        let (chat, topic) = channel(&mut owner, &shop, "general").await;
        let mut editor = Peer::native_signed_in(server.addr, Some(&shop.editor.access)).await;
        assert!(editor.sub(&topic, None).await, "[{l}]");
        assert!(owner.sub(&topic, None).await, "[{l}]");

        // Queued offline, sent on reconnect, then sent again by a client that
        // did not see the reply: one message.
        let first = send(&mut owner, &chat, "queued-7", "Deliver 3 crates").await;
        let mut again = Peer::native_signed_in(server.addr, Some(&shop.owner.access)).await;
        let second = send(&mut again, &chat, "queued-7", "Deliver 3 crates").await;
        assert_eq!(first["id"], second["id"], "[{l}] the same message");
        editor.until(Duration::from_millis(300), |_| false).await;
        assert_eq!(bodies(&editor, &topic), vec!["Deliver 3 crates"], "[{l}] one event");

        owner.presence(&topic, json!({ "typing": true })).await;
        let typing = |p: &Peer| {
            p.frames.iter().any(|f| matches!(f, ServerFrame::Presence { entries, .. }
                if entries.iter().any(|e| e.state == json!({ "typing": true }) && e.user == shop.owner.id)))
        };
        assert!(editor.until(WAIT, typing).await, "[{l}] {:?}", editor.frames);
        server.stop().await;
    })
    .await;
}
