//! Failed attempts and what follows, as the receiver saw them and as the
//! delivery log tells them: retries on a growing schedule until success, a
//! timeout counted as a failure, giving up after the last attempt, manual
//! redelivery, and test events.

use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};

use crate::common::http;
use crate::receiver::{HANG, Receiver};
use crate::{Node, SOON, Shop, emit, log_until, settled};

fn status(d: &Value) -> &str {
    d["status"].as_str().expect("status")
}

fn attempts(d: &Value) -> Vec<Value> {
    d["attempts"].as_array().expect("attempts").clone()
}

fn at(a: &Value) -> i64 {
    a["at"].as_i64().expect("at")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_backoff_and_every_attempt_is_logged() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        // 200 ms base, 3 attempts, 1 s timeout.
        let node = Node::start(&db, |_| {}).await;
        let addr = node.addr;
        let store = db.store().await;
        let rx = Receiver::start().await;
        let shop = Shop::open(addr).await;
        // No answer, then a 503, then (the receiver's default) 200.
        rx.script("/flaky", &[HANG, 503]);
        rx.script("/down", &[500, 500, 500]);
        let flaky = shop.endpoint(addr, &rx.url("/flaky"), &["*"]).await;
        let down = shop.endpoint(addr, &rx.url("/down"), &["*"]).await;
        let e = emit(&store, Some(&shop.business), "doc.changed", json!({})).await;

        let log = log_until(&shop, addr, &flaky, |l| {
            l.first().is_some_and(|d| status(d) == "succeeded")
        })
        .await;
        assert_eq!(log.len(), 1, "[{label}] one delivery: {}", json!(log));
        let d = &log[0];
        assert_eq!(d["event_id"], json!(e.id), "[{label}]");
        assert_eq!(d["event_type"], json!("doc.changed"), "[{label}]");
        assert_eq!(d["attempt_count"], json!(3), "[{label}]");
        let a = attempts(d);
        assert_eq!(a.len(), 3, "[{label}] {d}");
        let (timed_out, refused, accepted) = (&a[0], &a[1], &a[2]);
        assert_eq!(timed_out["outcome"], json!("failed"), "[{label}] {d}");
        assert_eq!(timed_out["status_code"], Value::Null, "[{label}] {d}");
        assert!(
            timed_out["error"]
                .as_str()
                .is_some_and(|e| e.contains("no answer within 1 s")),
            "[{label}] {d}"
        );
        assert!(
            timed_out["duration_ms"]
                .as_i64()
                .is_some_and(|ms| ms >= 900),
            "[{label}] {d}"
        );
        assert_eq!(refused["outcome"], json!("failed"), "[{label}] {d}");
        assert_eq!(refused["status_code"], json!(503), "[{label}] {d}");
        assert_eq!(
            refused["response_excerpt"],
            json!("boom: try later"),
            "[{label}] {d}"
        );
        assert_eq!(accepted["outcome"], json!("succeeded"), "[{label}] {d}");
        assert_eq!(accepted["status_code"], json!(200), "[{label}] {d}");
        assert_eq!(
            accepted["response_excerpt"],
            json!("thanks"),
            "[{label}] {d}"
        );
        for (i, x) in a.iter().enumerate() {
            assert_eq!(x["n"], json!(i + 1), "[{label}] {d}");
            assert_eq!(x["manual"], json!(false), "[{label}] {d}");
        }
        // The first retry waits out the 1 s timeout and then 200 ms ± 20%;
        // the second waits 3 × 200 ms ± 20%.
        assert!(at(refused) - at(timed_out) >= 1_000 + 160, "[{label}] {d}");
        assert!(at(accepted) - at(refused) >= 480, "[{label}] {d}");
        assert_eq!(d["next_attempt_at"], Value::Null, "[{label}]");

        // The receiver saw the same three requests: one event, one body.
        let got = rx.received("/flaky");
        assert_eq!(got.len(), 3, "[{label}]");
        for r in &got {
            assert_eq!(r.event_id(), e.id, "[{label}]");
            assert_eq!(r.body, got[0].body, "[{label}] the body does not change");
        }

        // Always failing: given up after the third attempt.
        let log = log_until(&shop, addr, &down, |l| {
            l.first().is_some_and(|d| status(d) == "failed")
        })
        .await;
        let a = attempts(&log[0]);
        assert_eq!(a.len(), 3, "[{label}] {}", log[0]);
        assert!(
            a.iter().all(|x| x["status_code"] == json!(500)),
            "[{label}]"
        );
        settled(&store).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            rx.received("/down").len(),
            3,
            "[{label}] no attempt after giving up"
        );
        // /metrics counts them: 1 accepted; 2 + 3 failed attempts; 1 given up.
        let metrics = http::get(addr, "/metrics", &[]).await.text();
        for (name, n) in [
            ("goonline_webhook_deliveries_total", 1),
            ("goonline_webhook_attempts_failed_total", 5),
            ("goonline_webhook_given_up_total", 1),
        ] {
            assert!(
                metrics.lines().any(|l| l == format!("{name} {n}")),
                "[{label}] {name} {n} in:\n{metrics}"
            );
        }
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_redelivery_sends_again_and_is_logged_as_manual() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        let node = Node::start(&db, |_| {}).await;
        let addr = node.addr;
        let store = db.store().await;
        let rx = Receiver::start().await;
        let shop = Shop::open(addr).await;
        rx.script("/down", &[500, 500, 500]);
        let fine = shop.endpoint(addr, &rx.url("/fine"), &["doc.*"]).await;
        let down = shop.endpoint(addr, &rx.url("/down"), &["doc.*"]).await;
        let e = emit(&store, Some(&shop.business), "doc.deleted", json!({})).await;
        settled(&store).await;
        let auth = format!("Bearer {}", shop.owner.token);
        let redeliver = |delivery: Value| {
            let path = format!(
                "/api/businesses/{}/webhook-deliveries/{}/redeliver",
                shop.business,
                delivery.as_str().expect("id")
            );
            let auth = auth.clone();
            async move { http::json(addr, "POST", &path, &[("Authorization", &auth)], &json!({})).await }
        };

        // Succeeded, sent again on request.
        let d = shop.log(addr, &fine).await[0].clone();
        assert_eq!(status(&d), "succeeded", "[{label}] {d}");
        let r = redeliver(d["id"].clone()).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.text());
        assert_eq!(
            r.json(),
            json!({ "delivery_id": d["id"], "event_id": e.id, "status": "pending" }),
            "[{label}]"
        );
        let got = rx.until("/fine", SOON, |r| r.len() == 2).await;
        assert_eq!(got[1].event_id(), e.id, "[{label}]");
        assert_eq!(got[1].body, got[0].body, "[{label}] the same event, the same body");
        let log = log_until(&shop, addr, &fine, |l| status(&l[0]) == "succeeded" && attempts(&l[0]).len() == 2).await;
        let a = attempts(&log[0]);
        assert_eq!(a[1]["manual"], json!(true), "[{label}] {}", log[0]);
        assert_eq!(a[1]["outcome"], json!("succeeded"), "[{label}]");
        assert_eq!(a[0]["manual"], json!(false), "[{label}]");

        // Given up, then delivered by hand (the receiver answers 200 now).
        let d = shop.log(addr, &down).await[0].clone();
        assert_eq!(status(&d), "failed", "[{label}] {d}");
        assert_eq!(redeliver(d["id"].clone()).await.status, 200, "[{label}]");
        let log = log_until(&shop, addr, &down, |l| status(&l[0]) == "succeeded").await;
        let a = attempts(&log[0]);
        assert_eq!(a.len(), 4, "[{label}] {}", log[0]);
        assert_eq!(a[3]["manual"], json!(true), "[{label}]");
        assert_eq!(a[3]["status_code"], json!(200), "[{label}]");
        assert_eq!(rx.received("/down").len(), 4, "[{label}]");

        // Someone else's delivery id is not found.
        let stranger = Shop::open(addr).await;
        let (status_code, body) = crate::call(
            addr,
            &stranger.owner.token,
            "webhook.redeliver",
            json!({ "business_id": stranger.business, "delivery_id": d["id"] }),
        )
        .await;
        assert_eq!((status_code, body["error"]["code"].clone()), (404, json!("not_found")), "[{label}]");
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_event_goes_to_one_endpoint_once() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        let node = Node::start(&db, |_| {}).await;
        let addr = node.addr;
        let store = db.store().await;
        let rx = Receiver::start().await;
        let shop = Shop::open(addr).await;
        rx.script("/target", &[503]);
        let target = shop
            .endpoint(addr, &rx.url("/target"), &["doc.created"])
            .await;
        shop.endpoint(addr, &rx.url("/bystander"), &["*"]).await;
        let path = format!(
            "/api/businesses/{}/webhooks/{}/test",
            shop.business,
            target["id"].as_str().expect("id")
        );
        let auth = format!("Bearer {}", shop.owner.token);
        let r = http::json(addr, "POST", &path, &[("Authorization", &auth)], &json!({})).await;
        assert_eq!(r.status, 200, "[{label}] {}", r.text());
        let queued = r.json();
        let got = rx.until("/target", SOON, |r| !r.is_empty()).await;
        let body = got[0].json();
        assert_eq!(body["type"], json!("webhook.test"), "[{label}] {body}");
        assert_eq!(body["id"], queued["event_id"], "[{label}]");
        assert_eq!(body["data"]["endpoint_id"], target["id"], "[{label}]");
        settled(&store).await;
        // One attempt (no retries for a test), answered 503: failed.
        let log = shop.log(addr, &target).await;
        assert_eq!(log.len(), 1, "[{label}]");
        assert_eq!(status(&log[0]), "failed", "[{label}] {}", log[0]);
        assert_eq!(rx.received("/target").len(), 1, "[{label}]");
        assert!(
            rx.received("/bystander").is_empty(),
            "[{label}] only the endpoint tested"
        );
        node.stop().await;
    })
    .await;
}
