//! The operational metrics feed (`platform/metrics`, latest-value) and the
//! REST history door (`GET /api/topics/{topic}/events`).

use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::native::ServerFrame;
use serde_json::Value;

use crate::common::accounts::{login, register};
use crate::common::http::get;
use crate::common::{Peer, TestServer, WAIT};

/// A server publishing its metrics every second, and a platform admin's token.
async fn server_with_admin(db: TestDb) -> (TestServer, String, String) {
    let server = TestServer::start(db, |a| {
        a.security.allow_anonymous_docs = false;
        a.topics.metrics_feed_secs = 1;
    })
    .await;
    let admin = register(server.addr, "admin").await;
    sqlx::query("UPDATE users SET platform_admin = 1 WHERE id = $1")
        .bind(&admin.id)
        .execute(server.db.store().await.pool())
        .await
        .expect("promote");
    // The claim is in the token: sign in again after the promotion.
    let token = login(server.addr, &admin).await;
    let other = register(server.addr, "merchant").await;
    (server, token, other.access)
}

pub async fn platform_admins_follow_live_operational_metrics_and_others_are_refused() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (server, admin, merchant) = server_with_admin(db).await;
        let mut a = Peer::native_signed_in(server.addr, Some(&admin)).await;
        assert!(
            a.sub("platform/metrics", None).await,
            "[{l}] {:?}",
            a.errors
        );
        assert!(
            a.until_events("platform/metrics", 2).await,
            "[{l}] samples arrive every second: {:?}",
            a.frames
        );
        let (_, sample) = a.topic_events("platform/metrics").pop().expect("sample");
        for field in [
            "connections",
            "rooms",
            "live_topics",
            "updates_per_sec",
            "frames_in_per_sec",
        ] {
            assert!(
                sample.get(field).is_some_and(Value::is_number),
                "[{l}] {field}: {sample}"
            );
        }
        assert!(
            sample["connections"].as_f64() >= Some(1.0),
            "[{l}] {sample}"
        );

        let mut m = Peer::native_signed_in(server.addr, Some(&merchant)).await;
        assert!(!m.sub("platform/metrics", None).await, "[{l}]");
        assert!(
            m.errors.iter().any(
                |e| matches!(e, ServerFrame::Error { code, topic: Some(t), .. }
                if code.as_str() == "forbidden" && t == "platform/metrics")
            ),
            "[{l}] {:?}",
            m.errors
        );
        server.stop().await;
    })
    .await;
}

pub async fn the_rest_history_door_pages_a_topic_with_the_same_access_rule() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let (server, admin, merchant) = server_with_admin(db).await;
        // Wait for a few samples.
        let mut a = Peer::native_signed_in(server.addr, Some(&admin)).await;
        assert!(a.sub("platform/metrics", None).await, "[{l}]");
        assert!(
            a.until(WAIT, |p| p.topic_seqs("platform/metrics").last()
                >= Some(&3))
                .await,
            "[{l}]"
        );

        let path = "/api/topics/platform%2Fmetrics/events?after=1&limit=2";
        let bearer = format!("Bearer {admin}");
        let r = get(server.addr, path, &[("authorization", &bearer)]).await;
        assert_eq!(r.status, 200, "[{l}] {}", r.text());
        let page = r.json();
        let seqs: Vec<u64> = page["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect();
        assert_eq!(seqs, vec![2, 3], "[{l}] {page}");
        assert_eq!(page["next_after"], 3, "[{l}]");
        assert!(
            page["events"][0]["data"]["connections"].is_number(),
            "[{l}] {page}"
        );

        let r = get(server.addr, path, &[]).await;
        assert_eq!(
            (r.status, r.error_code()),
            (401, "unauthorized".into()),
            "[{l}]"
        );
        let r = get(
            server.addr,
            path,
            &[("authorization", &format!("Bearer {merchant}"))],
        )
        .await;
        assert_eq!(
            (r.status, r.error_code()),
            (403, "forbidden".into()),
            "[{l}]"
        );
        let r = get(
            server.addr,
            "/api/topics/platform%2Fmetrics/events?after=-4",
            &[("authorization", &bearer)],
        )
        .await;
        assert_eq!(
            (r.status, r.error_code()),
            (400, "invalid_argument".into()),
            "[{l}] {}",
            r.text()
        );
        let r = get(
            server.addr,
            "/api/topics/biz%2Fnope%2Fwhat%2Fx/events",
            &[("authorization", &bearer)],
        )
        .await;
        assert_eq!(
            (r.status, r.error_code()),
            (404, "not_found".into()),
            "[{l}] {}",
            r.text()
        );
        server.stop().await;
    })
    .await;
}
