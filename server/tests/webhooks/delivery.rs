//! What a delivery looks like: the documented signature (recomputed here from
//! the raw body and the secret), the payload and headers, both signatures
//! during a secret rotation's overlap, and which endpoints get which events.

use goonline_engine::testing::{TestDb, each_backend};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::receiver::Receiver;
use crate::{Node, SOON, Shop, emit, ok, settled};

/// `GoOnline-Signature: t=<secs>,v1=<hex>[,v1=<hex>]`: the timestamp and the
/// signatures.
fn parse_signature(header: &str) -> (i64, Vec<String>) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse().ok(),
            Some(("v1", v)) => v1.push(v.to_string()),
            _ => panic!("unexpected part {part:?} in {header:?}"),
        }
    }
    (t.expect("a t= part"), v1)
}

/// The documented algorithm: hex HMAC-SHA256 keyed with the secret, of
/// `"{t}.{raw body}"`.
fn expected_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn secret(v: &Value) -> String {
    v["secret"].as_str().expect("secret").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_as_documented_and_carry_the_event() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        let node = Node::start(&db, |_| {}).await;
        let store = db.store().await;
        let rx = Receiver::start().await;
        let shop = Shop::open(node.addr).await;
        let endpoint = shop.endpoint(node.addr, &rx.url("/hook"), &["*"]).await;
        let first = secret(&endpoint);
        assert!(first.starts_with("whsec_"), "[{label}] {endpoint}");

        let data = json!({ "doc_id": "d1", "title": "Prices", "workspace_id": "w1" });
        let e = emit(&store, Some(&shop.business), "doc.created", data.clone()).await;
        let got = rx.until("/hook", SOON, |r| !r.is_empty()).await;
        let r = &got[0];
        assert_eq!(r.header("content-type"), "application/json", "[{label}]");
        assert_eq!(r.header("goonline-event-id"), e.id, "[{label}]");
        assert_eq!(r.header("goonline-event-type"), "doc.created", "[{label}]");
        assert!(
            r.header("user-agent").starts_with("GoOnline-Webhooks/"),
            "[{label}] {:?}",
            r.headers
        );
        let (t, v1) = parse_signature(r.header("goonline-signature"));
        assert!((t - now_secs()).abs() < 60, "[{label}] t={t} is now");
        assert_eq!(
            v1,
            [expected_signature(&first, t, &r.body)],
            "[{label}] one signature, made with the endpoint's secret over t.body"
        );
        // A receiver that checks a body changed on the way would refuse it.
        let mut tampered = r.body.clone();
        tampered.push(b' ');
        assert_ne!(v1[0], expected_signature(&first, t, &tampered), "[{label}]");
        assert_eq!(
            r.json(),
            json!({
                "id": e.id,
                "type": "doc.created",
                "created": e.at,
                "business_id": shop.business,
                "subject": e.subject,
                "actor": "someone",
                "data": data,
            }),
            "[{label}] the payload"
        );

        // A rotation that keeps the old secret for an hour: two signatures,
        // the new secret's first.
        let rotated = ok(
            node.addr,
            &shop.owner.token,
            "webhook.rotate_secret",
            json!({ "business_id": shop.business, "endpoint_id": endpoint["id"], "keep_previous_hours": 1 }),
        )
        .await;
        let second = secret(&rotated);
        assert_ne!(second, first, "[{label}]");
        assert!(rotated["previous_secret"]["expires_at"].as_i64().is_some());
        emit(&store, Some(&shop.business), "doc.versioned", json!({})).await;
        let got = rx.until("/hook", SOON, |r| r.len() == 2).await;
        let (t, v1) = parse_signature(got[1].header("goonline-signature"));
        assert_eq!(
            v1,
            [
                expected_signature(&second, t, &got[1].body),
                expected_signature(&first, t, &got[1].body)
            ],
            "[{label}] signed with the new and the previous secret"
        );

        // Retired at once: the newest secret only.
        let third = secret(
            &ok(
                node.addr,
                &shop.owner.token,
                "webhook.rotate_secret",
                json!({ "business_id": shop.business, "endpoint_id": endpoint["id"], "keep_previous_hours": 0 }),
            )
            .await,
        );
        emit(&store, Some(&shop.business), "doc.restored", json!({})).await;
        let got = rx.until("/hook", SOON, |r| r.len() == 3).await;
        let (t, v1) = parse_signature(got[2].header("goonline-signature"));
        assert_eq!(v1, [expected_signature(&third, t, &got[2].body)], "[{label}]");
        node.stop().await;
    })
    .await;
}

/// The event types `path` received, sorted (deliveries go out side by side,
/// in no promised order).
fn types(rx: &Receiver, path: &str) -> Vec<String> {
    let mut t: Vec<String> = rx
        .received(path)
        .iter()
        .map(|r| r.header("goonline-event-type").to_string())
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_receive_only_the_events_they_listen_to() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        let node = Node::start(&db, |_| {}).await;
        let addr = node.addr;
        let store = db.store().await;
        let rx = Receiver::start().await;
        let shop = Shop::open(addr).await;
        let other = Shop::open(addr).await;
        shop.endpoint(addr, &rx.url("/docs"), &["doc.*"]).await;
        shop.endpoint(
            addr,
            &rx.url("/renames"),
            &["workspace.renamed", "doc.deleted"],
        )
        .await;
        shop.endpoint(addr, &rx.url("/all"), &["*"]).await;
        let off = shop.endpoint(addr, &rx.url("/off"), &["*"]).await;
        let b = json!(shop.business);
        let off_params = json!({ "business_id": b, "endpoint_id": off["id"], "active": false });
        let updated = ok(addr, &shop.owner.token, "webhook.update", off_params).await;
        assert_eq!(updated["active"], json!(false), "[{label}]");
        other.endpoint(addr, &rx.url("/other"), &["*"]).await;

        for kind in [
            "doc.created",
            "workspace.created",
            "doc.deleted",
            "workspace.renamed",
        ] {
            emit(&store, Some(&shop.business), kind, json!({})).await;
        }
        emit(&store, Some(&other.business), "doc.created", json!({})).await;
        emit(&store, None, "platform.notice", json!({})).await;
        settled(&store).await;

        assert_eq!(
            types(&rx, "/docs"),
            ["doc.created", "doc.deleted"],
            "[{label}]"
        );
        assert_eq!(
            types(&rx, "/renames"),
            ["doc.deleted", "workspace.renamed"],
            "[{label}]"
        );
        assert_eq!(
            types(&rx, "/all"),
            [
                "doc.created",
                "doc.deleted",
                "workspace.created",
                "workspace.renamed"
            ],
            "[{label}] every event of its own business, and only those"
        );
        assert!(
            types(&rx, "/off").is_empty(),
            "[{label}] a disabled endpoint gets nothing"
        );
        assert_eq!(types(&rx, "/other"), ["doc.created"], "[{label}]");

        // Turned on again: it gets what happens from then on.
        let on = json!({ "business_id": b, "endpoint_id": off["id"], "active": true });
        ok(addr, &shop.owner.token, "webhook.update", on).await;
        emit(&store, Some(&shop.business), "doc.renamed", json!({})).await;
        settled(&store).await;
        assert_eq!(types(&rx, "/off"), ["doc.renamed"], "[{label}]");
        assert_eq!(types(&rx, "/docs").len(), 3, "[{label}]");
        assert_eq!(types(&rx, "/renames").len(), 2, "[{label}]");
        node.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_and_document_operations_reach_the_endpoints() {
    each_backend(|db: TestDb| async move {
        let label = db.label;
        let node = Node::start(&db, |_| {}).await;
        let addr = node.addr;
        let rx = Receiver::start().await;
        let shop = Shop::open(addr).await;
        shop.endpoint(addr, &rx.url("/docs"), &["doc.*"]).await;
        shop.endpoint(addr, &rx.url("/spaces"), &["workspace.*"])
            .await;
        let token = &shop.owner.token;
        let b = json!(shop.business);
        let ws = ok(
            addr,
            token,
            "workspace.create",
            json!({ "business_id": b, "name": "Campaigns" }),
        )
        .await;
        let params =
            json!({ "business_id": b, "workspace_id": ws["id"], "title": "Plan", "kind": "text" });
        let doc = ok(addr, token, "doc.create", params).await;

        let got = rx.until("/docs", SOON, |r| !r.is_empty()).await;
        let body = got[0].json();
        assert_eq!(body["type"], json!("doc.created"), "[{label}] {body}");
        assert_eq!(body["subject"], doc["name"], "[{label}] {body}");
        assert_eq!(body["actor"], json!(shop.owner.id), "[{label}] {body}");
        assert_eq!(body["business_id"], b, "[{label}] {body}");
        let got = rx.until("/spaces", SOON, |r| !r.is_empty()).await;
        let body = got[0].json();
        assert_eq!(body["type"], json!("workspace.created"), "[{label}] {body}");
        assert_eq!(body["data"]["workspace_id"], ws["id"], "[{label}] {body}");
        node.stop().await;
    })
    .await;
}
