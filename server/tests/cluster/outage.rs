//! When the bus loses messages: Redis cut off from every node while writes go
//! on (readiness reports it; afterwards every node catches up from the
//! store), and a node that drops every third bus message on purpose (it finds
//! the holes and fills them from the store).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::clients::{
    Stop, Writer, client, converge, newcomer_text, one_to, pump, settled_seqs, until_events,
};
use super::harness::{Cluster, Options, SLOW};
use super::topics::{channel, chat_send};
use crate::common::Dialect;
use crate::common::Peer;
use crate::common::accounts::Shop;

const PAUSE: Duration = Duration::from_millis(10);

/// Sends chat messages through `addr` until `stop`; returns how many.
async fn keep_chatting(
    addr: SocketAddr,
    token: String,
    chat: String,
    tag: &'static str,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut p = Peer::native_signed_in(addr, Some(&token)).await;
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        chat_send(&mut p, &chat, &format!("{tag}-{n}"), &format!("{tag} {n}")).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    n
}

/// Polls until every node answers `/readyz` with `status`.
async fn until_readyz(cluster: &Cluster, nodes: usize, status: u16) {
    let deadline = tokio::time::Instant::now() + SLOW;
    loop {
        let mut all = true;
        for i in 0..nodes {
            all &= cluster.readyz(i).await == status;
        }
        if all {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "every node's /readyz answers {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn after_a_redis_outage_every_node_has_every_update_and_event_and_is_ready_again() {
    let Some(cluster) = Cluster::start(
        Options::nodes(3)
            .through_proxy()
            .flags(&["--chat-sends-per-10s", "1000"]),
    )
    .await
    else {
        return;
    };
    let shop = Shop::open(cluster.addr(0)).await;
    let (chat, topic) = channel(cluster.addr(0), &shop, "outage").await;
    let mut subs = Vec::new();
    for node in 0..3 {
        let mut p = Peer::native_signed_in(cluster.addr(node), Some(&shop.editor.access)).await;
        assert!(p.sub(&topic, None).await, "{:?}", p.errors);
        subs.push(p);
    }
    let doc = "cluster-outage";
    let a = Writer::new(
        client(cluster.addr(0), Dialect::Native, doc).await,
        doc,
        "a",
    );
    let b = Writer::new(
        client(cluster.addr(1), Dialect::Hocuspocus, doc).await,
        doc,
        "b",
    );
    let mut watcher = client(cluster.addr(2), Dialect::YWebsocket, doc).await;

    let stop = Stop::on_signal();
    let a = tokio::spawn(a.run(stop.clone(), PAUSE, None));
    let b = tokio::spawn(b.run(stop.clone(), PAUSE, None));
    let chatting = Arc::new(AtomicBool::new(false));
    let chats: Vec<_> = [(0, "via-a"), (1, "via-b")]
        .into_iter()
        .map(|(node, tag)| {
            tokio::spawn(keep_chatting(
                cluster.addr(node),
                shop.owner.access.clone(),
                chat.clone(),
                tag,
                chatting.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Redis goes away for every node; writes and messages go on.
    cluster.proxy().cut();
    until_readyz(&cluster, 3, 503).await;
    pump(&mut watcher, Duration::from_millis(500)).await;
    cluster.proxy().restore();
    until_readyz(&cluster, 3, 200).await;
    for i in 0..3 {
        cluster.wait_ready(i).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.now();
    chatting.store(true, Ordering::SeqCst);
    let (mut a, mut b) = (a.await.expect("writer"), b.await.expect("writer"));
    let mut sent = 0;
    for c in chats {
        sent += c.await.expect("chatter");
    }

    // No update lost: every writer's edits are acknowledged and everyone,
    // including a newcomer on every node, has all of them.
    a.write_acked(1).await;
    b.write_acked(1).await;
    let expected: Vec<String> = a.markers().into_iter().chain(b.markers()).collect();
    let text = converge(
        &mut [&mut a.peer, &mut b.peer, &mut watcher],
        doc,
        &expected,
    )
    .await;
    for node in 0..3 {
        let fresh = newcomer_text(cluster.addr(node), Dialect::Native, doc, &expected).await;
        assert_eq!(fresh, text, "node {node}");
    }
    // No event lost: every subscriber saw each sequence number once, in order.
    for (node, p) in subs.iter_mut().enumerate() {
        until_events(p, &topic, sent).await;
        assert_eq!(settled_seqs(p, &topic).await, one_to(sent), "node {node}");
    }
    for node in 0..3 {
        assert_eq!(cluster.readyz(node).await, 200);
        let reconnects = cluster.metric(node, "goonline_bus_reconnects_total").await;
        let catchups = cluster.metric(node, "goonline_doc_catchups_total").await
            + cluster.metric(node, "goonline_bus_resyncs_total").await;
        assert!(reconnects > 0.0, "node {node} counted its reconnect");
        assert!(catchups > 0.0, "node {node} counted its catch-up");
    }
}

pub async fn a_node_dropping_bus_messages_catches_up_from_the_store() {
    let Some(cluster) = Cluster::start(
        Options::nodes(2)
            .flags(&["--chat-sends-per-10s", "1000"])
            .node_flags(1, &["--bus-fault-drop-every", "3"]),
    )
    .await
    else {
        return;
    };
    let shop = Shop::open(cluster.addr(0)).await;
    let (chat, topic) = channel(cluster.addr(0), &shop, "lossy").await;
    let mut sub = Peer::native_signed_in(cluster.addr(1), Some(&shop.editor.access)).await;
    assert!(sub.sub(&topic, None).await);
    let doc = "cluster-lossy";
    let mut readers = [
        client(cluster.addr(1), Dialect::Native, doc).await,
        client(cluster.addr(1), Dialect::YWebsocket, doc).await,
    ];
    let mut writer = Writer::new(
        client(cluster.addr(0), Dialect::Native, doc).await,
        doc,
        "w",
    );
    writer.write_acked(60).await;
    const EVENTS: usize = 30;
    let mut sender = Peer::native_signed_in(cluster.addr(0), Some(&shop.owner.access)).await;
    for i in 0..EVENTS {
        chat_send(
            &mut sender,
            &chat,
            &format!("m{i}"),
            &format!("message {i}"),
        )
        .await;
    }

    let expected = writer.markers();
    let mut peers: Vec<&mut Peer> = readers.iter_mut().collect();
    peers.push(&mut writer.peer);
    converge(&mut peers, doc, &expected).await;
    until_events(&mut sub, &topic, EVENTS).await;
    assert_eq!(settled_seqs(&mut sub, &topic).await, one_to(EVENTS));
    let dropped = cluster.metric(1, "goonline_bus_fault_drops_total").await;
    let catchups = cluster.metric(1, "goonline_doc_catchups_total").await;
    assert!(dropped > 0.0, "the hook dropped messages");
    assert!(catchups > 0.0, "the node caught up from the store");
}
