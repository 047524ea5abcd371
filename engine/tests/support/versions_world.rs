//! A world with the versions service on an engine that checks access like the
//! server's (namespaces and roles), signed-in clients, and readers of what the
//! service wrote (versions, domain events, `docs` rows).

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use goonline_engine::access::NamespacePolicy;
use goonline_engine::audit::AuditLog;
use goonline_engine::bus::LocalBus;
use goonline_engine::events::EventNotifier;
use goonline_engine::metrics::Metrics;
use goonline_engine::ops::idempotency::IdempotencyStore;
use goonline_engine::ops::{OpError, OpsBuilder, UserRef};
use goonline_engine::tenancy::Tenancy;
use goonline_engine::testing::TestDb;
use goonline_engine::topics::feed::register_metrics_kind;
use goonline_engine::topics::{TopicKinds, Topics, TopicsConfig};
use goonline_engine::versions::{Versions, VersionsConfig};
use goonline_engine::{Engine, EngineConfig, EngineParts, now_ms};
use goonline_protocol::sync::SyncMessage;
use serde_json::{Value, json};
use sqlx::Row;
use yrs::{Any, Map, Out, Transact};

use super::Client;
use super::tenancy_world::{World, user};

pub const WAIT: Duration = Duration::from_secs(10);

/// The world, its service, and a shop: owner, an agent (edits documents), a
/// viewer, and an outsider who is no member.
pub struct VWorld {
    pub w: World,
    pub versions: Versions,
    pub shop: String,
    pub owner: String,
    pub agent: String,
    pub viewer: String,
    pub outsider: String,
}

/// Timers for tests: a fast flush, no automatic versions, `doc.changed`
/// after half a second of quiet.
pub fn quick() -> VersionsConfig {
    VersionsConfig {
        flush_interval: Duration::from_millis(50),
        changed_quiet: Duration::from_millis(500),
        changed_max_interval: Duration::from_secs(60),
        auto_version_quiet: None,
    }
}

/// A world whose engine uses `engine_cfg` and whose versions use `cfg`.
pub async fn versions_world(db: &TestDb, engine_cfg: EngineConfig, cfg: VersionsConfig) -> VWorld {
    let store = db.store().await;
    let engine = Engine::start(EngineParts {
        config: engine_cfg,
        store: Arc::new(store.clone()),
        bus: LocalBus::new(),
        access: Arc::new(NamespacePolicy::new(store.clone(), false)),
        metrics: Arc::new(Metrics::default()),
    });
    let audit = AuditLog::new(store.clone());
    let mut kinds = TopicKinds::new();
    register_metrics_kind(&mut kinds, &store);
    let topics = Topics::start(store.clone(), kinds, TopicsConfig::default());
    engine.set_topics(topics.clone());
    let tenancy = Tenancy::new(store.clone(), audit.clone(), engine.clone());
    let mut ops = OpsBuilder::new();
    tenancy.register_ops(&mut ops);
    let versions = Versions::start(store.clone(), engine.clone(), EventNotifier::default(), cfg);
    engine.set_activity(versions.activity());
    versions.register_ops(&mut ops);
    let registry = Arc::new(ops.build(
        Arc::new(tenancy),
        IdempotencyStore::new(store.clone(), Duration::from_secs(24 * 3600)),
    ));
    let w = World {
        registry,
        db: store,
        audit,
        engine,
        topics,
    };
    let owner = user(&w, "owner").await;
    let agent = user(&w, "agent").await;
    let viewer = user(&w, "viewer").await;
    let outsider = user(&w, "outsider").await;
    let shop = w
        .shop(&owner, &[("agent", "agent"), ("viewer", "viewer")])
        .await;
    VWorld {
        w,
        versions,
        shop,
        owner,
        agent,
        viewer,
        outsider,
    }
}

impl VWorld {
    /// A business document of the shop (not in a workspace).
    pub fn doc(&self, name: &str) -> String {
        format!("biz/{}/{name}", self.shop)
    }

    pub async fn call(&self, who: &str, method: &str, params: Value) -> Result<Value, OpError> {
        self.w.call(who, method, params).await
    }

    /// `who` names a version of `doc`; returns it.
    pub async fn create(&self, who: &str, doc: &str, label: &str) -> Value {
        self.call(who, "version.create", json!({ "doc": doc, "label": label }))
            .await
            .unwrap_or_else(|e| panic!("version.create: {e:?}"))
    }

    /// The versions of `doc`, newest first, as `who` lists them.
    pub async fn list(&self, who: &str, doc: &str) -> Vec<Value> {
        let r = self
            .call(who, "version.list", json!({ "doc": doc }))
            .await
            .unwrap_or_else(|e| panic!("version.list: {e:?}"));
        r["versions"].as_array().expect("versions").clone()
    }

    /// A version's content as a v1 update.
    pub async fn content(&self, who: &str, doc: &str, id: &str) -> Vec<u8> {
        let r = self
            .call(
                who,
                "version.get",
                json!({ "doc": doc, "version_id": id, "format": "update" }),
            )
            .await
            .unwrap_or_else(|e| panic!("version.get: {e:?}"));
        STANDARD
            .decode(r["content"].as_str().expect("content"))
            .expect("base64")
    }

    /// A client signed in as `user` with `doc` open and synced.
    pub async fn client(&self, user: &str, doc: &str) -> Client {
        let mut c = Client::connect(&self.w.engine);
        c.session.set_user(UserRef {
            id: user.to_string(),
            platform_admin: false,
            session: format!("s-{user}-{}", now_ms()),
        });
        c.open(doc).await;
        c
    }

    /// The domain events of `kind` in order: (subject, actor, data).
    pub async fn events(&self, kind: &str) -> Vec<(String, Option<String>, Value)> {
        let rows = sqlx::query(
            "SELECT subject, actor, data FROM domain_events WHERE type = $1 ORDER BY pos",
        )
        .bind(kind)
        .fetch_all(self.w.db.pool())
        .await
        .expect("domain events");
        rows.iter()
            .map(|r| {
                let data: String = r.get(2);
                (
                    r.get(0),
                    r.get(1),
                    serde_json::from_str(&data).expect("event data"),
                )
            })
            .collect()
    }
}

/// Ack ids of the helpers below, apart from `Client::type_text`'s.
static NEXT_ACK: AtomicU64 = AtomicU64::new(1_000_000);

/// Sends `update` on `doc`; returns its ack id.
pub fn send(c: &mut Client, doc: &str, update: &[u8]) -> u64 {
    let id = NEXT_ACK.fetch_add(1, Ordering::Relaxed);
    c.session
        .sync(doc, SyncMessage::Update(update), Some(id))
        .expect("update");
    id
}

/// Sets `key` of the top-level map `root` to `value`; returns the ack id.
pub fn set_key(c: &mut Client, doc: &str, root: &str, key: &str, value: i64) -> u64 {
    let update = {
        let map = c.doc.get_or_insert_map(root);
        let mut txn = c.doc.transact_mut();
        map.insert(&mut txn, key, value);
        txn.encode_update_v1()
    };
    send(c, doc, &update)
}

/// Top-level map `root` as key → number.
pub fn map_of(c: &Client, root: &str) -> Vec<(String, i64)> {
    let map = c.doc.get_or_insert_map(root);
    let txn = c.doc.transact();
    let mut out: Vec<(String, i64)> = map
        .iter(&txn)
        .filter_map(|(k, v)| match v {
            Out::Any(Any::Number(n)) => n.as_i64().map(|n| (k.to_string(), n)),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Waits until `c` has the ack `id`.
pub async fn acked(c: &mut Client, id: u64) {
    assert!(
        c.until(WAIT, |c| c.acks.contains(&Some(id))).await,
        "no ack {id}"
    );
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Inserts a workspace of `business` and a document in it (as the workspaces
/// service would); returns the document's name.
pub async fn workspace_doc(vw: &VWorld, title: &str) -> String {
    let pool = vw.w.db.pool();
    let ws = uuid::Uuid::now_v7().to_string();
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO workspaces (id, business_id, name, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&ws)
    .bind(&vw.shop)
    .bind("Marketing")
    .bind(&vw.owner)
    .bind(now)
    .execute(pool)
    .await
    .expect("workspace");
    let name = format!("biz/{}/ws/{ws}/{id}", vw.shop);
    sqlx::query(
        "INSERT INTO docs (name, id, business_id, workspace_id, title, kind, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&name)
    .bind(&id)
    .bind(&vw.shop)
    .bind(&ws)
    .bind(title)
    .bind("text")
    .bind(&vw.owner)
    .bind(now)
    .execute(pool)
    .await
    .expect("doc row");
    name
}

/// The `docs` row's (last_edited_at, last_edited_by, size_bytes).
pub async fn last_edit(vw: &VWorld, name: &str) -> (Option<i64>, Option<String>, i64) {
    let r =
        sqlx::query("SELECT last_edited_at, last_edited_by, size_bytes FROM docs WHERE name = $1")
            .bind(name)
            .fetch_one(vw.w.db.pool())
            .await
            .expect("doc row");
    (r.get(0), r.get(1), r.get(2))
}

/// The string at `key` of `v`.
pub fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {v}"))
        .to_string()
}
