//! Awareness across nodes: who is in a document shows on every node, and the
//! states of a node that died go within the awareness expiry (30 s).

use std::time::Duration;

use goonline_protocol::native::ClientFrame;

use super::clients::{client, pump};
use super::harness::{Cluster, Options, SLOW};
use crate::common::{Dialect, Peer};

/// The expiry (30 s), the housekeeping sweep and a loaded machine.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(50);

fn sees(p: &Peer, doc: &str, client: u64, needle: &str) -> bool {
    p.awareness
        .get(doc)
        .and_then(|states| states.get(&client))
        .is_some_and(|s| s.contains(needle))
}

pub async fn awareness_crosses_nodes_and_a_dead_nodes_states_expire() {
    let Some(mut cluster) = Cluster::start(Options::nodes(2)).await else {
        return;
    };
    let doc = "cluster-whos-here";
    let mut on_b = client(cluster.addr(1), Dialect::YWebsocket, doc).await;
    let mut on_a = client(cluster.addr(0), Dialect::YWebsocket, doc).await;
    on_a.set_awareness(doc, 1, r#"{"user":"ana"}"#).await;
    let ana = on_a.client_id;
    assert!(
        on_b.until(SLOW, |p| sees(p, doc, ana, "ana")).await,
        "a state set on node A shows on node B"
    );
    on_b.set_awareness(doc, 1, r#"{"user":"bo"}"#).await;
    let bo = on_b.client_id;
    assert!(
        on_a.until(SLOW, |p| sees(p, doc, bo, "bo")).await,
        "and the other way"
    );
    // A client joining later on node B gets node A's states too.
    let mut late = client(cluster.addr(1), Dialect::Native, doc).await;
    assert!(
        late.until(SLOW, |p| sees(p, doc, ana, "ana")).await,
        "a late joiner sees node A's state"
    );

    // Node A dies without a word: its clients' states go within the expiry.
    on_a.set_awareness(doc, 2, r#"{"user":"ana","still":true}"#)
        .await;
    assert!(on_b.until(SLOW, |p| sees(p, doc, ana, "still")).await);
    cluster.kill(0).await;
    let gone = |p: &Peer| !p.awareness.get(doc).is_some_and(|s| s.contains_key(&ana));
    let deadline = tokio::time::Instant::now() + EXPIRY_DEADLINE;
    let mut clock = 1;
    while !on_b.until(Duration::from_secs(5), gone).await {
        assert!(
            tokio::time::Instant::now() < deadline && on_b.closed.is_none(),
            "node A's state is dropped on node B: {:?} (closed {:?})",
            on_b.awareness.get(doc),
            on_b.closed
        );
        // Node B's clients stay alive meanwhile, renewing their own state as
        // y-protocols clients do, and pinging.
        clock += 1;
        on_b.set_awareness(doc, clock, r#"{"user":"bo"}"#).await;
        late.send(ClientFrame::Ping { ts: Some(clock) }.encode())
            .await;
        pump(&mut late, Duration::from_millis(10)).await;
    }
    assert!(late.until(SLOW, gone).await, "for every client on node B");
    assert!(sees(&on_b, doc, bo, "bo"), "node B's own states stay");
}
