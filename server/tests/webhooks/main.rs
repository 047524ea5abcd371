//! Outbound webhooks end to end, on SQLite and Postgres, against a real HTTP
//! receiver (`receiver`): domain events written to the outbox reach the
//! endpoints that listen to them, signed as `docs/webhooks.md` says, retried
//! after failures, logged attempt by attempt, redelivered on request, and
//! neither lost nor repeated when the server restarts.
//!
//! - `delivery`: the signature, the payload and headers, secret rotation,
//!   event filtering.
//! - `retries`: failures, timeouts and giving up, as the log shows them;
//!   manual redelivery and test events.
//! - `restart`: a server stopped mid-way and a new one on the same database.

#[path = "../common/mod.rs"]
mod common;

mod delivery;
mod receiver;
mod restart;
mod retries;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http;
use goonline_engine::events::{DomainEvent, emit_in};
use goonline_engine::sql_store::SqlStore;
use goonline_engine::testing::TestDb;
use goonline_server::config::ServeArgs;
use serde_json::{Value, json};

/// How long deliveries may take to arrive.
pub const SOON: Duration = Duration::from_secs(15);

/// A server on a database the test keeps (so another can start on it).
pub struct Node {
    pub addr: SocketAddr,
    /// The data directory it made for itself (removed on stop), if the
    /// test did not give one.
    own_dir: Option<std::path::PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<bool>>>,
}

impl Node {
    /// A server with fast retries (200 ms base), 3 attempts and a 1 s timeout,
    /// then `tweak`.
    pub async fn start(db: &TestDb, tweak: impl FnOnce(&mut ServeArgs)) -> Node {
        let mut args = ServeArgs::defaults();
        args.listen = "127.0.0.1:0".parse().expect("addr");
        args.database_url = Some(db.url.clone());
        args.data_dir = std::env::temp_dir().join(format!(
            "goonline-test-data-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let made = args.data_dir.clone();
        args.docs.webhook_retry_base_ms = 200;
        args.docs.webhook_max_attempts = 3;
        args.docs.webhook_timeout_secs = 1;
        // The receiver listens on 127.0.0.1.
        args.docs.webhook_allow_private_addresses = true;
        tweak(&mut args);
        let sql = db.store().await;
        let store = std::sync::Arc::new(db.store().await);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, serve) = goonline_server::start_with_store(&args, sql, store, async move {
            let _ = stopped.await;
        })
        .await
        .expect("server starts");
        Node {
            addr,
            own_dir: (args.data_dir == made).then_some(made),
            stop: Some(stop),
            task: Some(tokio::spawn(serve)),
        }
    }

    /// Graceful stop.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(dir) = self.own_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A signed-in account.
pub struct User {
    pub id: String,
    pub token: String,
}

/// A REST call (`POST /api/ops/{method}`): the status and the JSON body.
pub async fn call(addr: SocketAddr, token: &str, method: &str, params: Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = http::json(
        addr,
        "POST",
        &format!("/api/ops/{method}"),
        &[("Authorization", &auth)],
        &params,
    )
    .await;
    (r.status, r.json())
}

/// A call that must succeed.
pub async fn ok(addr: SocketAddr, token: &str, method: &str, params: Value) -> Value {
    let (status, v) = call(addr, token, method, params.clone()).await;
    assert_eq!(status, 200, "{method} {params}: {v}");
    v
}

pub async fn register(addr: SocketAddr, name: &str) -> User {
    let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = http::json(
        addr,
        "POST",
        "/api/ops/auth.register",
        &[],
        &json!({ "email": email, "password": "correct horse battery", "display_name": name }),
    )
    .await
    .json();
    User {
        id: r["user"]["id"].as_str().expect("id").to_string(),
        token: r["access_token"].as_str().expect("token").to_string(),
    }
}

/// An owner and their business.
pub struct Shop {
    pub owner: User,
    pub business: String,
}

impl Shop {
    pub async fn open(addr: SocketAddr) -> Shop {
        let owner = register(addr, "owner").await;
        let b = ok(
            addr,
            &owner.token,
            "business.create",
            json!({ "name": "Shop" }),
        )
        .await;
        Shop {
            business: b["id"].as_str().expect("id").to_string(),
            owner,
        }
    }

    /// `webhook.create` for `url` and `events`: the endpoint (with its secret).
    pub async fn endpoint(&self, addr: SocketAddr, url: &str, events: &[&str]) -> Value {
        ok(
            addr,
            &self.owner.token,
            "webhook.create",
            json!({ "business_id": self.business, "url": url, "events": events }),
        )
        .await
    }

    /// The delivery log of `endpoint`.
    pub async fn log(&self, addr: SocketAddr, endpoint: &Value) -> Vec<Value> {
        let v = ok(
            addr,
            &self.owner.token,
            "webhook.deliveries",
            json!({ "business_id": self.business, "endpoint_id": endpoint["id"] }),
        )
        .await;
        v["deliveries"].as_array().expect("deliveries").clone()
    }
}

/// Writes a domain event to the outbox, as a feature does in its
/// transaction; the dispatcher picks it up on its next poll.
pub async fn emit(db: &SqlStore, business: Option<&str>, kind: &str, data: Value) -> DomainEvent {
    let event = DomainEvent::new(business, kind, "biz/x/ws/y/z", Some("someone"), data);
    let mut tx = db.pool().begin().await.expect("begin");
    emit_in(&mut tx, &event).await.expect("emit");
    tx.commit().await.expect("commit");
    event
}

/// Waits until every event is dispatched and no delivery is pending: from
/// then on, nothing more will be sent.
pub async fn settled(db: &SqlStore) {
    let end = Instant::now() + SOON;
    loop {
        let undispatched: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM domain_events WHERE dispatched_at IS NULL")
                .fetch_one(db.pool())
                .await
                .expect("count");
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(db.pool())
                .await
                .expect("count");
        if undispatched == 0 && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < end,
            "not settled: {undispatched} undispatched events, {pending} pending deliveries"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `endpoint`'s log until `done`.
pub async fn log_until(
    shop: &Shop,
    addr: SocketAddr,
    endpoint: &Value,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let end = Instant::now() + SOON;
    loop {
        let log = shop.log(addr, endpoint).await;
        if done(&log) {
            return log;
        }
        assert!(
            Instant::now() < end,
            "the delivery log did not get there: {}",
            json!(log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
