//! The Redis bus against the real Redis (TEST_REDIS_URL): nodes exchange
//! document, topic and control messages, hear a document only while
//! subscribed, never hear themselves, survive garbage on a channel, and come
//! back from outages staged with a TCP proxy (re-subscribed, resynced, with
//! what they could not publish counted).
//!
//! Ordering trick used throughout: one node's messages reach a receiver in
//! the order it published them, so once a control "marker" published after
//! a message has arrived, that message has arrived too, or never will.

#[path = "support/redis_nodes.rs"]
mod redis_nodes;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use goonline_engine::bus::redis::{RedisBus, RedisBusConfig, RedisBusError};
use goonline_engine::bus::{Bus, BusMessage, BusPayload, Channel, Control};
use goonline_engine::metrics::Metrics;
use redis_nodes::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_doc_topic_and_control_messages() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::connected(&url, &prefix, 2).await;
    assert!(a.bus.is_shared());
    for node in [&a, &b] {
        node.bus.subscribe(doc_channel("d1")).await;
        node.bus.subscribe(topic_channel("t1")).await;
    }

    a.publish_update("d1", 1);
    a.bus.publish(BusMessage::new(
        1,
        topic_channel("t1"),
        BusPayload::TopicEvent {
            seq: 7,
            at: 1_700_000_000_000,
            data: Arc::new(serde_json::json!({"text": "hello", "n": 3})),
        },
    ));
    a.bus.publish(BusMessage::new(
        1,
        Channel::Control,
        BusPayload::Control(Control::EndSessions {
            user: "u1".into(),
            auth_session: Some("s1".into()),
            code: 4401,
            reason: "signed out".into(),
        }),
    ));
    b.bus.publish(BusMessage::awareness(
        2,
        Arc::from("d1"),
        Bytes::from_static(b"aw"),
    ));

    eventually("b to hear a's three messages", || {
        b.node.messages().len() == 3
    })
    .await;
    let got = b.node.messages();
    assert!(got.iter().all(|m| m.origin == 1));
    assert!(
        matches!(&got[0].payload, BusPayload::Update { seq: 1, data } if data[..] == 1u64.to_le_bytes())
    );
    match &got[1].payload {
        BusPayload::TopicEvent { seq, at, data } => {
            assert_eq!((*seq, *at), (7, 1_700_000_000_000));
            assert_eq!(data["text"], "hello");
        }
        other => panic!("expected a topic event, got {other:?}"),
    }
    assert_eq!(got[1].channel, topic_channel("t1"));
    assert!(matches!(
        &got[2].payload,
        BusPayload::Control(Control::EndSessions { code: 4401, auth_session: Some(s), .. }) if s == "s1"
    ));

    eventually("a to hear b's awareness", || a.node.messages().len() == 1).await;
    let got = a.node.messages();
    assert!(matches!(&got[0].payload, BusPayload::Awareness(d) if &d[..] == b"aw"));
    assert_eq!(got[0].channel, doc_channel("d1"));

    // Counted once Redis acknowledged the pipeline, which may be after b heard it.
    eventually("a to count its publishes", || {
        a.metrics.bus_published.load(Ordering::SeqCst) == 3
    })
    .await;
    assert_eq!(b.metrics.bus_received.load(Ordering::SeqCst), 3);
    assert_eq!(b.metrics.bus_lag_seconds.count(), 3);
    assert_eq!(a.metrics.bus_connected.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doc_channel_is_heard_only_while_subscribed() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::connected(&url, &prefix, 2).await;

    // Not subscribed yet: the control marker arrives, the update does not.
    a.publish_update("d", 1);
    a.publish_marker("m1");
    eventually("marker 1", || b.node.has_marker("m1")).await;
    assert_eq!(b.node.update_seqs("d"), Vec::<u64>::new());

    // Two subscribers, one leaves: still subscribed.
    b.bus.subscribe(doc_channel("d")).await;
    b.bus.subscribe(doc_channel("d")).await;
    b.bus.unsubscribe(doc_channel("d"));
    // Subscription requests are handled in order: once this one is
    // confirmed, the unsubscribe before it has been handled too.
    b.bus.subscribe(doc_channel("other")).await;
    a.publish_update("d", 2);
    a.publish_marker("m2");
    eventually("marker 2", || b.node.has_marker("m2")).await;
    assert_eq!(b.node.update_seqs("d"), vec![2]);

    // The last one leaves: no longer heard.
    b.bus.unsubscribe(doc_channel("d"));
    b.bus.subscribe(doc_channel("other2")).await;
    a.publish_update("d", 3);
    a.publish_marker("m3");
    eventually("marker 3", || b.node.has_marker("m3")).await;
    assert_eq!(b.node.update_seqs("d"), vec![2]);

    // And back.
    b.bus.subscribe(doc_channel("d")).await;
    a.publish_update("d", 4);
    eventually("update 4", || b.node.update_seqs("d") == [2, 4]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_does_not_hear_its_own_messages() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::connected(&url, &prefix, 2).await;
    a.bus.subscribe(doc_channel("d")).await;
    b.bus.subscribe(doc_channel("d")).await;

    a.publish_update("d", 1);
    a.publish_marker("from-a");
    eventually("b to hear a", || b.node.has_marker("from-a")).await;
    // Redis pushed a's own messages to a before b's reply below.
    b.publish_marker("from-b");
    eventually("a to hear b", || a.node.has_marker("from-b")).await;
    let heard = a.node.messages();
    assert_eq!(heard.len(), 1, "a heard only b's marker: {heard:?}");
    assert_eq!(a.metrics.bus_received.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_a_channel_is_counted_and_the_next_message_still_arrives() {
    let mut raw = require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::connected(&url, &prefix, 2).await;
    b.bus.subscribe(doc_channel("d")).await;

    let garbage: [&[u8]; 3] = [b"\xc1not msgpack", b"", b"\x81\xa1o\x01"];
    for body in garbage {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(format!("{prefix}:d:d"))
            .arg(body)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    // A well-formed message of the wrong kind for its channel, too.
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}:ctl"))
        .arg(goonline_engine::bus::wire::encode(&BusMessage::update(
            9,
            Arc::from("d"),
            1,
            Bytes::new(),
        )))
        .query_async(&mut raw)
        .await
        .unwrap();
    a.publish_update("d", 5);

    eventually("the good update", || b.node.update_seqs("d") == [5]).await;
    assert_eq!(b.metrics.bus_decode_errors.load(Ordering::SeqCst), 4);
    assert_eq!(b.node.messages().len(), 1);
    assert_eq!(b.metrics.bus_received.load(Ordering::SeqCst), 1);
    assert!(b.bus.health().connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_is_noticed_and_repaired() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let (proxy, proxied) = proxy_to_redis().await;
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::connected(&proxied, &prefix, 2).await;
    a.bus.subscribe(doc_channel("d")).await;
    b.bus.subscribe(doc_channel("d")).await;
    a.publish_update("d", 1);
    eventually("update 1", || b.node.update_seqs("d") == [1]).await;
    let resyncs = b.node.resyncs();
    let reconnects = b.metrics.bus_reconnects.load(Ordering::SeqCst);

    proxy.cut();
    eventually("b's bus to report down", || {
        let health = b.bus.health();
        !health.connected && health.down_since.is_some()
    })
    .await;
    assert_eq!(b.metrics.bus_connected.load(Ordering::SeqCst), 0);
    let dropped = b.metrics.bus_publish_dropped.load(Ordering::SeqCst);
    b.publish_update("d", 100);
    b.publish_update("d", 101);
    b.publish_update("d", 102);
    eventually("publishes while cut to be counted as dropped", || {
        b.metrics.bus_publish_dropped.load(Ordering::SeqCst) >= dropped + 3
    })
    .await;
    assert!(b.bus.health().down_since.is_some());

    proxy.restore();
    b.wait_connected().await;
    assert_eq!(b.metrics.bus_connected.load(Ordering::SeqCst), 1);
    assert!(b.bus.health().down_since.is_none());
    assert!(b.metrics.bus_reconnects.load(Ordering::SeqCst) > reconnects);
    eventually("b to be asked to resync", || b.node.resyncs() > resyncs).await;

    // Re-subscribed: a's updates reach b again, and b's reach a.
    a.publish_update("d", 2);
    eventually("update 2 after the outage", || {
        b.node.update_seqs("d").contains(&2)
    })
    .await;
    b.publish_update("d", 103);
    eventually("b's update after the outage", || {
        a.node.update_seqs("d").contains(&103)
    })
    .await;
    assert!(!a.node.update_seqs("d").contains(&100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_half_open_connection_is_noticed() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let (proxy, proxied) = proxy_to_redis().await;
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::connected(&proxied, &prefix, 2).await;
    b.bus.subscribe(doc_channel("d")).await;

    // Nothing is closed, nothing passes: only the pings can tell.
    proxy.stall();
    eventually("b's bus to report down", || !b.bus.health().connected).await;
    assert_eq!(b.metrics.bus_connected.load(Ordering::SeqCst), 0);

    proxy.restore();
    b.wait_connected().await;
    a.publish_update("d", 1);
    eventually("update 1 after the stall", || {
        b.node.update_seqs("d") == [1]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_started_while_redis_is_down_connects_later() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let (proxy, proxied) = proxy_to_redis().await;
    proxy.cut();
    let a = TestNode::connected(&url, &prefix, 1).await;
    let b = TestNode::start(RedisBusConfig::new(proxied).with_prefix(&prefix), 2);
    let health = b.bus.health();
    assert!(!health.connected && health.down_since.is_some());
    // Down: subscribing does not wait for Redis.
    tokio::time::timeout(Duration::from_secs(5), b.bus.subscribe(doc_channel("d")))
        .await
        .expect("subscribe resolves at once while the bus is down");
    b.publish_update("d", 1);
    assert_eq!(b.metrics.bus_publish_dropped.load(Ordering::SeqCst), 1);

    proxy.restore();
    b.wait_connected().await;
    eventually("b to be asked to resync", || b.node.resyncs() >= 1).await;
    // The first connection is not a reconnect.
    assert_eq!(b.metrics.bus_reconnects.load(Ordering::SeqCst), 0);
    a.publish_update("d", 2);
    eventually("the channel subscribed while down", || {
        b.node.update_seqs("d") == [2]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_hook_drops_every_nth_update() {
    require_redis().await;
    let (url, prefix) = (redis_url(), random_prefix());
    let a = TestNode::connected(&url, &prefix, 1).await;
    let mut config = RedisBusConfig::new(&url).with_prefix(&prefix);
    config.drop_every = Some(3);
    let b = TestNode::start(config, 2);
    b.wait_connected().await;
    b.bus.subscribe(doc_channel("d")).await;

    for seq in 1..=9 {
        a.publish_update("d", seq);
        if seq == 5 {
            // Not sequenced: never dropped.
            a.bus
                .publish(BusMessage::awareness(1, Arc::from("d"), Bytes::new()));
        }
    }
    a.publish_marker("m1");
    eventually("marker 1", || b.node.has_marker("m1")).await;
    assert_eq!(b.node.update_seqs("d"), vec![1, 2, 4, 5, 7, 8]);
    assert_eq!(b.metrics.bus_fault_drops.load(Ordering::SeqCst), 3);
    let awareness = b
        .node
        .messages()
        .iter()
        .filter(|m| matches!(m.payload, BusPayload::Awareness(_)))
        .count();
    assert_eq!(awareness, 1);

    b.bus.set_drop_every(None);
    for seq in 10..=12 {
        a.publish_update("d", seq);
    }
    a.publish_marker("m2");
    eventually("marker 2", || b.node.has_marker("m2")).await;
    assert_eq!(b.node.update_seqs("d"), vec![1, 2, 4, 5, 7, 8, 10, 11, 12]);

    b.bus.set_drop_every(Some(2));
    for seq in 13..=16 {
        a.publish_update("d", seq);
    }
    a.publish_marker("m3");
    eventually("marker 3", || b.node.has_marker("m3")).await;
    assert_eq!(b.node.update_seqs("d")[9..], [13, 15]);
    assert_eq!(b.metrics.bus_fault_drops.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_bus_closes_its_connections() {
    require_redis().await;
    let (proxy, proxied) = proxy_to_redis().await;
    let b = TestNode::connected(&proxied, &random_prefix(), 2).await;
    assert_eq!(proxy.open_connections(), 2);
    drop(b);
    eventually("the bus's connections to close", || {
        proxy.open_connections() == 0
    })
    .await;
}

#[tokio::test]
async fn a_bad_configuration_is_refused() {
    let metrics = Arc::new(Metrics::default());
    let bad_url = RedisBus::start(
        RedisBusConfig::new("http://127.0.0.1:6379"),
        metrics.clone(),
    );
    assert!(matches!(bad_url, Err(RedisBusError::Url(_))));
    let bad_prefix = RedisBus::start(
        RedisBusConfig::new(redis_url()).with_prefix("two words"),
        metrics.clone(),
    );
    assert!(matches!(bad_prefix, Err(RedisBusError::Prefix(_))));
    // This build has no TLS.
    let tls = RedisBus::start(RedisBusConfig::new("rediss://127.0.0.1:6379"), metrics);
    assert!(matches!(tls, Err(RedisBusError::Url(_))));
}

#[test]
fn starting_outside_a_runtime_is_an_error() {
    let started = RedisBus::start(
        RedisBusConfig::new(redis_url()),
        Arc::new(Metrics::default()),
    );
    assert!(matches!(started, Err(RedisBusError::NoRuntime)));
}
