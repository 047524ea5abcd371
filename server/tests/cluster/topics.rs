//! Topics across nodes: a chat channel and a document's comment thread, with
//! subscribers on every node and messages sent through every node, reach each
//! subscriber once each, in sequence order, with no gap (also subscribers who
//! join while messages flow); presence set on one node shows on another.

use std::net::SocketAddr;

use goonline_protocol::native::ServerFrame;
use serde_json::{Value, json};

use super::clients::{one_to, set, settled_seqs, until_events};
use super::harness::{Cluster, Options, SLOW};
use crate::common::Peer;
use crate::common::accounts::Shop;

/// Chat messages each sender sends, and comment replies.
const MESSAGES: usize = 10;
const REPLIES: usize = 5;

/// Makes a chat channel of the shop; returns (chat id, topic).
pub async fn channel(addr: SocketAddr, shop: &Shop, name: &str) -> (String, String) {
    let c = shop
        .owner_call(
            addr,
            "chat.channel.create",
            json!({ "business_id": shop.business, "name": name }),
        )
        .await;
    (
        c["id"].as_str().expect("chat id").to_string(),
        c["topic"].as_str().expect("topic").to_string(),
    )
}

/// Sends a chat message.
pub async fn chat_send(p: &mut Peer, chat: &str, client_id: &str, body: &str) {
    p.call(
        "chat.send",
        json!({ "chat_id": chat, "client_id": client_id, "body": body }),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("chat.send {client_id}: {e:?}"));
}

/// The bodies of the `message.created` events `p` got on `topic`.
pub fn bodies(p: &Peer, topic: &str) -> Vec<String> {
    p.topic_events(topic)
        .into_iter()
        .filter(|(_, d)| d["type"] == "message.created")
        .filter_map(|(_, d)| d["message"]["body"].as_str().map(str::to_string))
        .collect()
}

pub async fn chat_and_comments_reach_subscribers_on_every_node_in_order_and_presence_crosses_nodes()
{
    let Some(cluster) =
        Cluster::start(Options::nodes(3).flags(&["--chat-sends-per-10s", "1000"])).await
    else {
        return;
    };
    let shop = Shop::open(cluster.addr(0)).await;
    let (chat, chat_topic) = channel(cluster.addr(0), &shop, "floor").await;
    let doc = shop.doc("price-list");
    let thread = shop
        .owner_call(
            cluster.addr(1),
            "comment.thread.create",
            json!({ "doc": doc, "body": "Are these prices current?" }),
        )
        .await;
    let thread_id = thread["id"].as_str().expect("thread id").to_string();
    let comments_topic = format!("biz/{}/comments/price-list", shop.business);

    // A subscriber on each node, each a different member. The chat is not
    // followed on node 2 yet: it goes live there while messages flow.
    let members = [&shop.editor, &shop.viewer, &shop.owner];
    let mut subs = Vec::new();
    for (node, who) in members.iter().enumerate() {
        let mut p = Peer::native_signed_in(cluster.addr(node), Some(&who.access)).await;
        let topics = match node {
            2 => vec![&comments_topic],
            _ => vec![&chat_topic, &comments_topic],
        };
        for topic in topics {
            assert!(
                p.sub(topic, None).await,
                "node {node} follows {topic}: {:?}",
                p.errors
            );
        }
        subs.push(p);
    }

    // Presence set on node 0 is seen on node 1.
    subs[0]
        .presence(&chat_topic, json!({ "here": true, "typing": true }))
        .await;
    let editor = shop.editor.id.clone();
    let seen = |p: &Peer| {
        p.frames.iter().any(|f| match f {
            ServerFrame::Presence { topic, entries } => {
                *topic == chat_topic
                    && entries
                        .iter()
                        .any(|e| e.user == editor && e.state["typing"] == Value::Bool(true))
            }
            _ => false,
        })
    };
    assert!(
        subs[1].until(SLOW, seen).await,
        "presence set on node 0 reaches node 1"
    );

    // Senders on every node at once.
    let mut senders = Vec::new();
    let mut late = Vec::new();
    for node in 0..3 {
        let (addr, token) = (cluster.addr(node), shop.owner.access.clone());
        let (chat, thread_id) = (chat.clone(), thread_id.clone());
        senders.push(tokio::spawn(async move {
            let mut p = Peer::native_signed_in(addr, Some(&token)).await;
            for i in 0..MESSAGES {
                chat_send(
                    &mut p,
                    &chat,
                    &format!("n{node}-{i}"),
                    &format!("from {node}: {i}"),
                )
                .await;
                if i < REPLIES {
                    p.call(
                        "comment.reply",
                        json!({ "thread_id": thread_id, "body": format!("reply {node}.{i}") }),
                        None,
                    )
                    .await
                    .expect("comment.reply");
                }
            }
        }));
    }
    // Others join on nodes 2 and 1 while messages flow: replay, then live,
    // must still give each event once.
    for (k, node) in [2, 1, 2, 2].into_iter().enumerate() {
        tokio::time::sleep(std::time::Duration::from_millis(10 * k as u64)).await;
        let mut p = Peer::native_signed_in(cluster.addr(node), Some(&shop.editor.access)).await;
        assert!(
            p.sub(&chat_topic, None).await,
            "a late subscriber on node {node}"
        );
        late.push(p);
    }
    for s in senders {
        s.await.expect("sender");
    }

    let messages = 3 * MESSAGES;
    // The thread's creation, then every reply.
    let comment_events = 1 + 3 * REPLIES;
    let sent: Vec<String> = (0..3)
        .flat_map(|n| (0..MESSAGES).map(move |i| format!("from {n}: {i}")))
        .collect();
    for (node, p) in subs.iter_mut().enumerate() {
        if node < 2 {
            until_events(p, &chat_topic, messages).await;
            assert_eq!(
                settled_seqs(p, &chat_topic).await,
                one_to(messages),
                "node {node}: every chat event once, in order"
            );
            assert_eq!(set(&bodies(p, &chat_topic)), set(&sent), "node {node}");
        }
        until_events(p, &comments_topic, comment_events).await;
        assert_eq!(
            settled_seqs(p, &comments_topic).await,
            one_to(comment_events),
            "node {node}: every comment event once, in order"
        );
    }
    for p in &mut late {
        until_events(p, &chat_topic, messages).await;
        assert_eq!(
            settled_seqs(p, &chat_topic).await,
            one_to(messages),
            "a subscriber who joined mid-stream"
        );
        assert_eq!(set(&bodies(p, &chat_topic)), set(&sent));
    }
}
