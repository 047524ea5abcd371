//! `/readyz` follows the store: 503 with the `unavailable` error body while the
//! store does not answer, 200 again once it does; `/healthz` stays 200 throughout.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::TestServer;
use goonline_engine::testing::{FaultyStore, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_store_is_unreachable() {
    let db = TestDb::sqlite();
    let faulty = FaultyStore::new(Arc::new(db.store().await));
    let server = TestServer::start_with_store(db, faulty.clone(), |_| {}).await;
    assert_eq!(server.http_get("/readyz").await.0, 200);

    faulty.fail_pings.store(true, Ordering::SeqCst);
    let (status, body) = server.http_get("/readyz").await;
    assert_eq!(status, 503);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
    assert_eq!(json["error"]["code"], "unavailable");
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("store")),
        "{body}"
    );
    assert_eq!(
        server.http_get("/healthz").await.0,
        200,
        "alive, just not ready"
    );

    faulty.fail_pings.store(false, Ordering::SeqCst);
    assert_eq!(server.http_get("/readyz").await.0, 200);
}
