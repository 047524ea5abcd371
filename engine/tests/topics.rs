//! Topics on SQLite and Postgres: what a subscriber gets across reconnects
//! (exactly what it missed, in order, or an explicit gap), the switch from
//! replay to live while others publish, latest-value coalescing, access and
//! its live revocation, presence, and the repair of an event published late.

mod support;

use std::sync::Arc;
use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use goonline_engine::topics::{Retention, TopicsConfig};
use serde_json::json;
use support::tenancy_world::{World, kinds_world, user};
use support::topic_client::{Follower, Seen};

const WAIT: Duration = Duration::from_secs(10);

/// A world with a `feed` kind (members follow it) kept for `retention`.
async fn feed_world(db: &TestDb, retention: Retention) -> World {
    kinds_world(db, TopicsConfig::default(), &[("feed", retention, false)]).await
}

/// Waits until `f` has seen `n` events of `topic`.
async fn events_reach(f: &mut Follower, topic: &str, n: usize) -> bool {
    let topic = topic.to_string();
    f.until(WAIT, |seen| {
        seen.iter()
            .filter(|s| matches!(s, Seen::Event { topic: t, .. } if *t == topic))
            .count()
            >= n
    })
    .await
}

async fn publish(w: &World, topic: &str, range: std::ops::RangeInclusive<u64>) {
    for n in range {
        w.topics
            .append(topic, json!({ "n": n }))
            .await
            .expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_comes_back_gets_exactly_what_it_missed_then_live_events() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db, Retention::FOREVER).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let topic = format!("biz/{b}/feed/orders");
        publish(&w, &topic, 1..=3).await;

        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, None).await.expect("subscribe");
        assert_eq!(f.seqs(&topic), vec![1, 2, 3], "[{l}] replay from the start");
        assert!(
            f.seen.contains(&Seen::Live {
                topic: topic.clone(),
                seq: 3
            }),
            "[{l}]"
        );
        publish(&w, &topic, 4..=5).await;
        assert!(
            events_reach(&mut f, &topic, 5).await,
            "[{l}] live: {:?}",
            f.seen
        );
        assert_eq!(f.seqs(&topic), vec![1, 2, 3, 4, 5], "[{l}]");
        let had = 5;
        drop(f);

        // Offline while 7 more events happen.
        publish(&w, &topic, 6..=12).await;
        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, Some(had)).await.expect("resubscribe");
        assert_eq!(
            f.seqs(&topic),
            (6..=12).collect::<Vec<_>>(),
            "[{l}] exactly the missed ones"
        );
        assert_eq!(f.data(&topic)[0], json!({ "n": 6 }), "[{l}]");
        publish(&w, &topic, 13..=14).await;
        assert!(events_reach(&mut f, &topic, 9).await, "[{l}] {:?}", f.seen);
        assert_eq!(
            f.seqs(&topic),
            (6..=14).collect::<Vec<_>>(),
            "[{l}] then live, no duplicate"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_older_than_the_retention_gets_a_gap_then_what_is_kept() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(
            &db,
            Retention {
                max_age: None,
                max_events: Some(5),
            },
        )
        .await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let topic = format!("biz/{b}/feed/x");
        publish(&w, &topic, 1..=20).await;
        assert_eq!(w.topics.trim_now().await.expect("trim"), 15, "[{l}]");
        assert_eq!(
            w.topics.bounds(&topic).await.expect("bounds"),
            (16, 20),
            "[{l}]"
        );

        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, Some(3)).await.expect("subscribe");
        assert_eq!(
            f.seen[0],
            Seen::Gap {
                topic: topic.clone(),
                from: 4,
                to: 15
            },
            "[{l}] an explicit gap, never a silent partial replay"
        );
        assert_eq!(f.seqs(&topic), (16..=20).collect::<Vec<_>>(), "[{l}]");
        // A subscriber that is up to date gets no gap.
        let mut g = Follower::connect(&w.engine, &owner);
        g.subscribe(&topic, Some(20)).await.expect("subscribe");
        assert!(
            g.seen.iter().all(|s| !matches!(s, Seen::Gap { .. })),
            "[{l}] {:?}",
            g.seen
        );

        // The REST history says the same.
        let page = w
            .call(
                &owner,
                "topic.events",
                json!({ "topic": topic, "after": 3, "limit": 2 }),
            )
            .await
            .expect("history");
        assert_eq!(page["gap"], json!({ "from": 4, "to": 15 }), "[{l}]");
        assert_eq!(page["events"][0]["seq"], json!(16), "[{l}]");
        assert_eq!(
            (page["next_after"].clone(), page["more"].clone()),
            (json!(17), json!(true)),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_joining_while_others_publish_miss_nothing_and_see_nothing_twice() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = Arc::new(feed_world(&db, Retention::FOREVER).await);
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let topic = format!("biz/{b}/feed/busy");
        const PUBLISHERS: u64 = 4;
        const EACH: u64 = 40;
        let total = PUBLISHERS * EACH;
        let mut publishers = Vec::new();
        for p in 0..PUBLISHERS {
            let (w, topic) = (w.clone(), topic.clone());
            publishers.push(tokio::spawn(async move {
                for i in 0..EACH {
                    w.topics
                        .append(&topic, json!({ "p": p, "i": i }))
                        .await
                        .expect("append");
                    if i % 8 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        // Followers join at different moments of the burst, from scratch or
        // from a point they already had.
        let mut followers = Vec::new();
        for k in 0..6u64 {
            tokio::time::sleep(Duration::from_millis(5 * k)).await;
            let mut f = Follower::connect(&w.engine, &owner);
            let since = if k % 2 == 0 {
                None
            } else {
                Some(w.topics.bounds(&topic).await.expect("b").1 / 2)
            };
            f.subscribe(&topic, since).await.expect("subscribe");
            followers.push((f, since.unwrap_or(0)));
        }
        for p in publishers {
            p.await.expect("publisher");
        }
        for (mut f, since) in followers {
            events_reach(&mut f, &topic, (total - since) as usize).await;
            // Anything extra (a duplicate) would have arrived by now too.
            tokio::time::sleep(Duration::from_millis(50)).await;
            f.pump();
            let seqs = f.seqs(&topic);
            assert_eq!(
                seqs,
                (since + 1..=total).collect::<Vec<_>>(),
                "[{l}] follower from {since}: every event once, in order"
            );
        }
    })
    .await;
}
