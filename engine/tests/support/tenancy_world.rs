//! A registry with the tenancy operations on a throwaway database, and callers
//! built directly (users inserted by SQL: the identity service is the server's).

use std::sync::Arc;
use std::time::Duration;

use goonline_engine::audit::AuditLog;
use goonline_engine::ops::idempotency::IdempotencyStore;
use goonline_engine::ops::{Caller, OpError, OpsBuilder, Registry, Transport, UserRef};
use goonline_engine::sql_store::SqlStore;
use goonline_engine::tenancy::Tenancy;
use goonline_engine::testing::{TestDb, start_engine};
use goonline_engine::topics::feed::register_metrics_kind;
use goonline_engine::topics::{
    OwnerAccess, Retention, TopicKind, TopicKinds, Topics, TopicsConfig,
};
use goonline_engine::{Engine, EngineConfig, now_ms};
use serde_json::{Value, json};

pub struct World {
    pub registry: Arc<Registry>,
    pub db: SqlStore,
    pub audit: AuditLog,
    pub engine: Engine,
    pub topics: Topics,
}

/// What a feature's test world registers besides tenancy.
pub struct Parts<'a> {
    pub db: &'a SqlStore,
    pub engine: &'a Engine,
    pub audit: &'a AuditLog,
    pub topics: &'a Topics,
}

pub async fn world(db: &TestDb) -> World {
    world_with(db, TopicsConfig::default(), |_, _| {}, |_, _| {}).await
}

/// A world with plain topic kinds (owner access) of the given name, retention
/// and latest-value flag, for tests of topics themselves.
pub async fn kinds_world(
    db: &TestDb,
    config: TopicsConfig,
    plain: &[(&'static str, Retention, bool)],
) -> World {
    let plain = plain.to_vec();
    world_with(
        db,
        config,
        move |kinds, db| {
            for (name, retention, latest_value) in plain {
                kinds.register(TopicKind {
                    name,
                    retention,
                    latest_value,
                    access: OwnerAccess::new(db.clone()),
                });
            }
        },
        |_, _| {},
    )
    .await
}

/// A world whose feature registers topic kinds (`kinds`, before the topics
/// service starts) and operations (`ops`). The `metrics` kind is always there,
/// as on the server.
pub async fn world_with(
    db: &TestDb,
    config: TopicsConfig,
    kinds: impl FnOnce(&mut TopicKinds, &SqlStore),
    ops_fn: impl FnOnce(&mut OpsBuilder, &Parts<'_>),
) -> World {
    let store = db.store().await;
    let engine = start_engine(Arc::new(store.clone()), EngineConfig::default());
    let audit = AuditLog::new(store.clone());
    let mut k = TopicKinds::new();
    register_metrics_kind(&mut k, &store);
    kinds(&mut k, &store);
    let topics = Topics::start(store.clone(), k, config);
    engine.set_topics(topics.clone());
    let tenancy = Tenancy::new(store.clone(), audit.clone(), engine.clone());
    let mut ops = OpsBuilder::new();
    tenancy.register_ops(&mut ops);
    topics.register_ops(&mut ops);
    ops_fn(
        &mut ops,
        &Parts {
            db: &store,
            engine: &engine,
            audit: &audit,
            topics: &topics,
        },
    );
    let registry = Arc::new(ops.build(
        Arc::new(tenancy),
        IdempotencyStore::new(store.clone(), Duration::from_secs(24 * 3600)),
    ));
    World {
        registry,
        db: store,
        audit,
        engine,
        topics,
    }
}

/// Inserts an account directly (the identity service is the server's).
pub async fn user(w: &World, name: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO users (id, email, display_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&id)
    .bind(format!("{name}@example.com"))
    .bind(name)
    .bind(now_ms())
    .execute(w.db.pool())
    .await
    .expect("insert user");
    id
}

pub fn as_user(id: &str, admin: bool) -> Caller {
    Caller {
        user: Some(UserRef {
            id: id.to_string(),
            platform_admin: admin,
            session: "s".into(),
        }),
        ip: None,
        via: Transport::Socket,
    }
}

impl World {
    pub async fn call(&self, who: &str, method: &str, params: Value) -> Result<Value, OpError> {
        self.registry
            .call(as_user(who, false), method, params, None)
            .await
    }

    /// A business owned by `owner` with one member per other role.
    pub async fn shop(&self, owner: &str, others: &[(&str, &str)]) -> String {
        let b = self
            .call(owner, "business.create", json!({ "name": "Mama's Shop" }))
            .await
            .expect("create");
        let id = b["id"].as_str().expect("id").to_string();
        for (email_name, role) in others {
            self.call(
                owner,
                "member.add",
                json!({ "business_id": id, "email": format!("{email_name}@example.com"), "role": role }),
            )
            .await
            .expect("add member");
        }
        id
    }
}

pub fn code(r: &Result<Value, OpError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Invitation helpers.
impl World {
    /// `who` invites to `business` as `role`: (invitation id, token).
    pub async fn invite(&self, who: &str, business: &str, role: &str) -> (String, String) {
        let r = self
            .call(
                who,
                "member.invite",
                json!({ "business_id": business, "role": role }),
            )
            .await
            .unwrap_or_else(|e| panic!("invite as {role}: {e:?}"));
        (
            r["invitation_id"].as_str().expect("id").to_string(),
            r["token"].as_str().expect("token").to_string(),
        )
    }

    pub async fn accept(&self, who: &str, token: &str) -> Result<Value, OpError> {
        self.call(who, "invitation.accept", json!({ "token": token }))
            .await
    }

    /// `user`'s role in `business`, as `member.list` shows it to `asker`.
    pub async fn role_of(&self, asker: &str, business: &str, user: &str) -> Option<String> {
        let list = self
            .call(asker, "member.list", json!({ "business_id": business }))
            .await
            .expect("member.list");
        list["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["user_id"] == json!(user))
            .and_then(|m| m["role"].as_str().map(str::to_string))
    }
}
