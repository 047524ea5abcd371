//! Live topic behaviour on SQLite and Postgres: latest-value coalescing for a
//! slow dashboard, access and its live revocation, refused names and
//! positions, presence, and an event whose publisher never announced it.

mod support;

use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use goonline_engine::topics::{Retention, TopicsConfig};
use goonline_engine::{AccessTarget, EngineError};
use serde_json::json;
use support::tenancy_world::{World, code, kinds_world, user};
use support::topic_client::{Follower, Seen};

const WAIT: Duration = Duration::from_secs(10);

async fn feed_world(db: &TestDb) -> World {
    let config = TopicsConfig {
        presence_ttl: Duration::from_millis(300),
        ..TopicsConfig::default()
    };
    kinds_world(db, config, &[("feed", Retention::FOREVER, false)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dashboard_gets_the_newest_sample_not_a_backlog() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let tile = format!("biz/{b}/metrics/sales_today");
        for n in 1..=3 {
            w.topics
                .publish_sample(&tile, json!({ "value": n }))
                .await
                .expect("sample");
        }
        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&tile, None).await.expect("subscribe");
        assert_eq!(
            f.data(&tile),
            vec![json!({ "value": 3 })],
            "[{l}] replay is the newest value only"
        );

        // The dashboard reads nothing while 200 samples are published.
        for n in 4..=203 {
            w.topics
                .publish_sample(&tile, json!({ "value": n }))
                .await
                .expect("sample");
        }
        f.pump();
        let after = f.data(&tile);
        assert_eq!(after.len(), 2, "[{l}] one queued value, not 200: {after:?}");
        assert_eq!(
            after[1],
            json!({ "value": 203 }),
            "[{l}] and it is the newest"
        );
        // A non-latest-value kind cannot be used for samples.
        assert!(
            w.topics
                .publish_sample(&format!("biz/{b}/feed/x"), json!(1))
                .await
                .is_err(),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_follow_a_business_topic_and_removal_ends_the_subscription_live() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let viewer = user(&w, "viewer").await;
        let stranger = user(&w, "stranger").await;
        let b = w.shop(&owner, &[("viewer", "viewer")]).await;
        let topic = format!("biz/{b}/feed/orders");

        let mut s = Follower::connect(&w.engine, &stranger);
        assert!(
            matches!(
                s.subscribe(&topic, None).await,
                Err(EngineError::Forbidden(_))
            ),
            "[{l}] a non-member is refused"
        );
        let mut v = Follower::connect(&w.engine, &viewer);
        v.subscribe(&topic, None).await.expect("viewers may follow");
        w.topics
            .append(&topic, json!({ "n": 1 }))
            .await
            .expect("append");
        assert!(
            v.until(WAIT, |s| s.iter().any(|e| matches!(e, Seen::Event { .. })))
                .await,
            "[{l}]"
        );

        let removed = w
            .call(
                &owner,
                "member.remove",
                json!({ "business_id": b, "user_id": viewer }),
            )
            .await;
        assert_eq!(code(&removed), "ok", "[{l}] {removed:?}");
        let changes = v.session.recheck_access().await;
        assert!(
            changes
                .iter()
                .any(|c| c.target == AccessTarget::Topic && *c.key == *topic),
            "[{l}] the subscription is ended: {changes:?}"
        );
        assert!(!v.session.is_subscribed(&topic), "[{l}]");
        w.topics
            .append(&topic, json!({ "n": 2 }))
            .await
            .expect("append");
        tokio::time::sleep(Duration::from_millis(100)).await;
        v.pump();
        assert_eq!(v.seqs(&topic), vec![1], "[{l}] nothing after the removal");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topics_bad_names_and_positions_past_the_end_are_refused_clearly() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let mut f = Follower::connect(&w.engine, &owner);
        for bad in [
            format!("biz/{b}/nosuchkind/x"),
            "chat/general".to_string(),
            format!("biz/{b}//x"),
        ] {
            let e = f.subscribe(&bad, None).await.expect_err("refused");
            assert_eq!(e.code().as_str(), "unknown_topic", "[{l}] {bad}: {e}");
        }
        let topic = format!("biz/{b}/feed/x");
        w.topics.append(&topic, json!({})).await.expect("append");
        let e = f.subscribe(&topic, Some(5)).await.expect_err("ahead");
        assert_eq!(e.code().as_str(), "invalid_argument", "[{l}] {e}");
        assert!(
            e.to_string().contains("since"),
            "[{l}] names the field: {e}"
        );
        f.subscribe(&topic, Some(1))
            .await
            .expect("at the end is fine");
        let e = f.subscribe(&topic, None).await.expect_err("twice");
        assert_eq!(e.code().as_str(), "already_subscribed", "[{l}]");
        let e = f
            .session
            .unsubscribe("biz/x/feed/y")
            .expect_err("not subscribed");
        assert_eq!(e.code().as_str(), "not_subscribed", "[{l}]");
        let r = w
            .call(
                &owner,
                "topic.events",
                json!({ "topic": topic, "after": 9 }),
            )
            .await;
        assert_eq!(code(&r), "invalid_argument", "[{l}] {r:?}");
        let r = w
            .call(
                &owner,
                "topic.events",
                json!({ "topic": topic, "limit": 0 }),
            )
            .await;
        assert_eq!(code(&r), "invalid_argument", "[{l}] {r:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_shared_with_other_subscribers_and_expires() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let admin = user(&w, "admin").await;
        let b = w.shop(&owner, &[("admin", "admin")]).await;
        let topic = format!("biz/{b}/feed/chat");
        let mut a = Follower::connect(&w.engine, &owner);
        let mut c = Follower::connect(&w.engine, &admin);
        a.subscribe(&topic, None).await.expect("a");
        c.subscribe(&topic, None).await.expect("c");
        a.session
            .set_presence(&topic, json!({ "typing": true }))
            .expect("presence");
        let typing = |s: &[Seen]| {
            s.iter().any(|e| {
                matches!(e, Seen::Presence { entries, .. }
                if entries.iter().any(|p| p.state == json!({ "typing": true })))
            })
        };
        assert!(c.until(WAIT, typing).await, "[{l}] {:?}", c.seen);
        // Not renewed: it expires and the others are told.
        let cleared = |s: &[Seen]| {
            s.iter().any(|e| {
                matches!(e, Seen::Presence { entries, .. }
                if entries.iter().any(|p| p.state.is_null()))
            })
        };
        assert!(c.until(WAIT, cleared).await, "[{l}] expiry: {:?}", c.seen);
        let big = json!({ "x": "y".repeat(2000) });
        assert_eq!(
            a.session
                .set_presence(&topic, big)
                .expect_err("too big")
                .code()
                .as_str(),
            "invalid_argument",
            "[{l}]"
        );
    })
    .await;
}

/// The presence set that follows `subscribed` lists the others, never the
/// subscriber's own entry, even when it set presence while its replay ran:
/// a client cannot tell its own `client` id from another's, and its own
/// changes are never echoed to it either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presence_set_after_subscribed_leaves_out_ones_own_entry() {
    use goonline_engine::topics::subscription::ReplayStep;

    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let admin = user(&w, "admin").await;
        let b = w.shop(&owner, &[("admin", "admin")]).await;
        let topic = format!("biz/{b}/feed/chat");
        let mut other = Follower::connect(&w.engine, &admin);
        other.subscribe(&topic, None).await.expect("other");
        other
            .session
            .set_presence(&topic, json!({ "here": "admin" }))
            .expect("other's presence");
        let mut me = Follower::connect(&w.engine, &owner);
        let mine = me.session.subscribe(&topic, None).await.expect("sub");
        // Set before the subscription is live (the replay has not finished).
        me.session
            .set_presence(&topic, json!({ "here": "owner" }))
            .expect("own presence");
        let snapshot = loop {
            match me.session.replay_step(&topic).await.expect("step") {
                ReplayStep::Batch { .. } => {}
                ReplayStep::Live { presence, .. } => break presence,
            }
        };
        assert!(
            snapshot.iter().all(|p| p.client != mine),
            "[{l}] own entry in the snapshot: {snapshot:?}"
        );
        assert_eq!(
            snapshot.iter().map(|p| p.state.clone()).collect::<Vec<_>>(),
            vec![json!({ "here": "admin" })],
            "[{l}] the others' entries"
        );
        // The others do see it.
        let owner_here = |s: &[Seen]| {
            s.iter().any(|e| {
                matches!(e, Seen::Presence { entries, .. }
                if entries.iter().any(|p| p.state == json!({ "here": "owner" })))
            })
        };
        assert!(
            other.until(WAIT, owner_here).await,
            "[{l}] {:?}",
            other.seen
        );
    })
    .await;
}

/// Appends `data` to `topic` and commits, as a call cancelled right after its
/// commit would: the event is stored but never announced.
async fn commit_unannounced(w: &World, topic: &str, data: serde_json::Value) {
    let mut tx = w.db.pool().begin().await.expect("begin");
    let lost = w
        .topics
        .append_in(&mut tx, topic, data)
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    drop(lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_but_never_announced_still_reaches_subscribers_in_order() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let topic = format!("biz/{b}/feed/x");
        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, None).await.expect("subscribe");
        // Committed, then its publisher went away before announcing it.
        commit_unannounced(&w, &topic, json!({ "n": 1 })).await;
        w.topics
            .append(&topic, json!({ "n": 2 }))
            .await
            .expect("append");
        assert!(
            f.until(WAIT, |s| s
                .iter()
                .filter(|e| matches!(e, Seen::Event { .. }))
                .count()
                >= 2)
                .await,
            "[{l}]"
        );
        assert_eq!(
            f.seqs(&topic),
            vec![1, 2],
            "[{l}] read back from the store, in order"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_announced_out_of_order_are_delivered_in_order_once() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let topic = format!("biz/{b}/feed/x");
        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, None).await.expect("subscribe");
        let mut appended = Vec::new();
        for n in 1..=3 {
            let mut tx = w.db.pool().begin().await.expect("begin");
            appended.push(
                w.topics
                    .append_in(&mut tx, &topic, json!({ "n": n }))
                    .await
                    .expect("append"),
            );
            tx.commit().await.expect("commit");
        }
        // Two appenders finished in the other order, and one announced twice.
        let third = appended.pop().expect("3");
        let second = appended.pop().expect("2");
        let first = appended.pop().expect("1");
        let again = goonline_engine::topics::Appended(first.0.clone());
        w.topics.publish(third);
        w.topics.publish(second);
        f.pump();
        assert!(
            f.seqs(&topic).is_empty(),
            "[{l}] nothing before 1: {:?}",
            f.seen
        );
        w.topics.publish(first);
        w.topics.publish(again);
        f.pump();
        assert_eq!(f.seqs(&topic), vec![1, 2, 3], "[{l}] in order, once each");
    })
    .await;
}

/// A world whose `tile` (latest-value) and `feed` kinds keep events 1 ms.
async fn short_lived(db: &TestDb) -> World {
    let brief = Retention {
        max_age: Some(Duration::from_millis(1)),
        max_events: None,
    };
    let kinds = [("tile", brief, true), ("feed", brief, false)];
    kinds_world(db, TopicsConfig::default(), &kinds).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_whose_every_event_expired_still_goes_live_at_once() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = short_lived(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let tile = format!("biz/{b}/tile/x");
        let (fresh, resumed) = (format!("biz/{b}/feed/a"), format!("biz/{b}/feed/b"));
        for n in 1..=3 {
            w.topics
                .publish_sample(&tile, json!({ "n": n }))
                .await
                .expect("sample");
            for feed in [&fresh, &resumed] {
                w.topics
                    .append(feed, json!({ "n": n }))
                    .await
                    .expect("append");
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(w.topics.trim_now().await.expect("trim"), 9, "[{l}]");

        for (topic, since) in [(&tile, None), (&fresh, None), (&resumed, Some(1))] {
            let mut f = Follower::connect(&w.engine, &owner);
            tokio::time::timeout(WAIT, f.subscribe(topic, since))
                .await
                .unwrap_or_else(|_| panic!("[{l}] {topic} since {since:?}: stuck in replay"))
                .expect("subscribe");
            assert!(f.seqs(topic).is_empty(), "[{l}] {topic}: nothing is kept");
            let gaps: Vec<&Seen> = f
                .seen
                .iter()
                .filter(|s| matches!(s, Seen::Gap { .. }))
                .collect();
            match since {
                // The client had 1: 2 and 3 are gone, and it is told.
                Some(_) => assert_eq!(
                    gaps,
                    vec![&Seen::Gap {
                        topic: topic.clone(),
                        from: 2,
                        to: 3
                    }],
                    "[{l}]"
                ),
                // It asked for what is kept: nothing is missing.
                None => assert!(gaps.is_empty(), "[{l}] {topic}: {gaps:?}"),
            }
            assert!(
                f.seen.contains(&Seen::Live {
                    topic: topic.clone(),
                    seq: 3
                }),
                "[{l}] {:?}",
                f.seen
            );
            // And live events follow.
            w.topics
                .append(topic, json!({ "n": 4 }))
                .await
                .expect("append");
            assert!(
                f.until(WAIT, |s| s.iter().any(|e| matches!(e, Seen::Event { .. })))
                    .await,
                "[{l}] {topic}"
            );
            assert_eq!(f.seqs(topic), vec![4], "[{l}] {topic}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unannounced_event_in_a_quiet_topic_reaches_live_subscribers() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = feed_world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let topic = format!("biz/{b}/feed/quiet");
        let mut f = Follower::connect(&w.engine, &owner);
        f.subscribe(&topic, None).await.expect("subscribe");
        // Committed; the call that made it was cancelled before announcing it,
        // and nothing else happens in the topic.
        commit_unannounced(&w, &topic, json!({ "n": 1 })).await;
        assert!(
            f.until(WAIT, |s| s.iter().any(|e| matches!(e, Seen::Event { .. })))
                .await,
            "[{l}] the audit finds it"
        );
        assert_eq!(f.seqs(&topic), vec![1], "[{l}]");
    })
    .await;
}
