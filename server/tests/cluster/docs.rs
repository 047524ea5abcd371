//! One document edited through several nodes: concurrent editors in every
//! dialect converge; a node killed with -9 loses nothing it acknowledged and
//! its clients carry on elsewhere; a node draining on SIGTERM says going-away,
//! exits 0, and its clients carry on elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goonline_protocol::codes::close;

use super::clients::{Stop, Writer, client, converge, missing, newcomer_text, reconnect};
use super::harness::{Cluster, Options, SLOW};
use crate::common::Dialect;

const PAUSE: Duration = Duration::from_millis(5);

pub async fn clients_of_every_dialect_on_three_nodes_converge_on_one_document() {
    let Some(cluster) = Cluster::start(Options::nodes(3)).await else {
        return;
    };
    let doc = "cluster-shared-notes";
    let seats = [
        (0, Dialect::Native, "nat-a"),
        (1, Dialect::YWebsocket, "yws-b"),
        (2, Dialect::Hocuspocus, "hoc-c"),
        (1, Dialect::Native, "nat-b"),
        (0, Dialect::Hocuspocus, "hoc-a"),
        (2, Dialect::YWebsocket, "yws-c"),
    ];
    let mut tasks = Vec::new();
    for (node, dialect, tag) in seats {
        let peer = client(cluster.addr(node), dialect, doc).await;
        let w = Writer::new(peer, doc, tag);
        tasks.push(tokio::spawn(w.run(Stop::after(25), PAUSE, None)));
    }
    let mut writers = Vec::new();
    for t in tasks {
        writers.push(t.await.expect("writer"));
    }
    let expected: Vec<String> = writers.iter().flat_map(Writer::markers).collect();
    assert_eq!(expected.len(), 6 * 25, "every writer wrote everything");
    let mut peers: Vec<_> = writers.iter_mut().map(|w| &mut w.peer).collect();
    let text = converge(&mut peers, doc, &expected).await;
    for node in 0..3 {
        let received = cluster.metric(node, "goonline_bus_received_total").await;
        assert!(received > 0.0, "node {node} heard the others over the bus");
    }

    // Anyone joining later, on any node and in any dialect, loads the same.
    for (node, dialect) in [
        (0, Dialect::YWebsocket),
        (1, Dialect::Hocuspocus),
        (2, Dialect::Native),
    ] {
        let fresh = newcomer_text(cluster.addr(node), dialect, doc, &expected).await;
        assert_eq!(fresh, text, "a new {dialect:?} client on node {node}");
    }
}

pub async fn a_node_killed_mid_write_loses_nothing_acknowledged_and_its_clients_move_on() {
    let Some(mut cluster) = Cluster::start(Options::nodes(3)).await else {
        return;
    };
    let doc = "cluster-ledger";
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
    let victim_native = Writer::new(
        client(cluster.addr(2), Dialect::Native, doc).await,
        doc,
        "cn",
    );
    let victim_hocus = Writer::new(
        client(cluster.addr(2), Dialect::Hocuspocus, doc).await,
        doc,
        "ch",
    );
    let stop = Stop::on_signal();
    let acked = Arc::new(AtomicUsize::new(0));
    let a = tokio::spawn(a.run(stop.clone(), PAUSE, None));
    let b = tokio::spawn(b.run(stop.clone(), PAUSE, None));
    let vn = tokio::spawn(victim_native.run(stop.clone(), PAUSE, Some(acked.clone())));
    let vh = tokio::spawn(victim_hocus.run(stop.clone(), PAUSE, None));

    // Kill the node once its clients have edits acknowledged, while they are
    // still typing.
    let deadline = tokio::time::Instant::now() + SLOW;
    while acked.load(Ordering::SeqCst) < 30 {
        assert!(tokio::time::Instant::now() < deadline, "edits acknowledged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.kill(2).await;
    let (vn, vh) = (vn.await.expect("writer"), vh.await.expect("writer"));
    assert!(
        vn.peer.closed.is_some() && vh.peer.closed.is_some(),
        "the node is gone"
    );
    let acked_before_kill: Vec<String> = vn.acked().into_iter().chain(vh.acked()).collect();
    assert!(acked_before_kill.len() >= 30);

    // Everything the dead node acknowledged is on the others.
    for node in [0, 1] {
        newcomer_text(cluster.addr(node), Dialect::Native, doc, &acked_before_kill).await;
    }

    // Its clients reconnect elsewhere (resending what was never acknowledged)
    // and go on editing with everyone.
    let mut vn2 = Writer::new(reconnect(&vn.peer, cluster.addr(0), doc).await, doc, "cn2");
    let mut vh2 = Writer::new(reconnect(&vh.peer, cluster.addr(1), doc).await, doc, "ch2");
    vn2.write_acked(5).await;
    vh2.write_acked(5).await;
    stop.now();
    let (mut a, mut b) = (a.await.expect("writer"), b.await.expect("writer"));
    assert!(a.peer.closed.is_none() && b.peer.closed.is_none());
    // Even the edits never acknowledged before the kill: the clients kept them.
    let expected: Vec<String> = [&a, &b, &vn, &vh, &vn2, &vh2]
        .iter()
        .flat_map(|w| w.markers())
        .collect();
    converge(
        &mut [&mut a.peer, &mut b.peer, &mut vn2.peer, &mut vh2.peer],
        doc,
        &expected,
    )
    .await;
    let text = newcomer_text(cluster.addr(1), Dialect::YWebsocket, doc, &expected).await;
    assert!(missing(&text, &acked_before_kill).is_empty());
}

pub async fn a_draining_node_says_going_away_exits_0_and_its_clients_carry_on_elsewhere() {
    let Some(mut cluster) = Cluster::start(Options::nodes(2)).await else {
        return;
    };
    let doc = "cluster-orders";
    let stay = Writer::new(
        client(cluster.addr(0), Dialect::Native, doc).await,
        doc,
        "stay",
    );
    let mut leaving = Vec::new();
    for (dialect, tag) in [
        (Dialect::Native, "ln"),
        (Dialect::YWebsocket, "ly"),
        (Dialect::Hocuspocus, "lh"),
    ] {
        leaving.push(Writer::new(
            client(cluster.addr(1), dialect, doc).await,
            doc,
            tag,
        ));
    }
    let stop = Stop::on_signal();
    let acked = Arc::new(AtomicUsize::new(0));
    let stay = tokio::spawn(stay.run(stop.clone(), PAUSE, None));
    let mut tasks = Vec::new();
    for (i, w) in leaving.into_iter().enumerate() {
        let progress = (i == 0).then(|| acked.clone());
        tasks.push(tokio::spawn(w.run(stop.clone(), PAUSE, progress)));
    }
    let deadline = tokio::time::Instant::now() + SLOW;
    while acked.load(Ordering::SeqCst) < 20 {
        assert!(tokio::time::Instant::now() < deadline, "edits acknowledged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Drain while they type: each is told going-away, the node exits 0.
    cluster.terminate(1);
    let mut leaving = Vec::new();
    for t in tasks {
        let w = t.await.expect("writer");
        assert_eq!(
            w.peer.closed.as_ref().and_then(|(c, _)| *c),
            Some(close::GOING_AWAY),
            "{:?} client told going-away: {:?}",
            w.peer.dialect,
            w.peer.closed
        );
        leaving.push(w);
    }
    let status = cluster.exited(1).await;
    assert_eq!(status.code(), Some(0), "a drained node exits 0");
    let acked_before: Vec<String> = leaving.iter().flat_map(Writer::acked).collect();
    assert!(acked_before.len() >= 20);
    newcomer_text(cluster.addr(0), Dialect::Native, doc, &acked_before).await;

    // They reconnect to the other node and go on editing.
    let mut moved = Vec::new();
    for w in &leaving {
        let tag = format!("{}-moved", w.tag());
        let peer = reconnect(&w.peer, cluster.addr(0), doc).await;
        moved.push(Writer::new(peer, doc, &tag));
    }
    for w in &mut moved {
        w.write_acked(5).await;
    }
    stop.now();
    let mut stay = stay.await.expect("writer");
    let expected: Vec<String> = leaving
        .iter()
        .chain(&moved)
        .chain(std::iter::once(&stay))
        .flat_map(Writer::markers)
        .collect();
    let mut peers: Vec<_> = moved.iter_mut().map(|w| &mut w.peer).collect();
    peers.push(&mut stay.peer);
    converge(&mut peers, doc, &expected).await;
}
