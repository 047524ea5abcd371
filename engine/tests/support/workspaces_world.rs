//! A world with workspaces, documents, guests and comments on a throwaway
//! database, whose engine asks the production access policy (so guests,
//! archives, moves and deletions are decided as on the server), and whose
//! workspaces service reads a clock the test can move forward.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use goonline_engine::access::NamespacePolicy;
use goonline_engine::audit::AuditLog;
use goonline_engine::bus::LocalBus;
use goonline_engine::comments::{self, Comments};
use goonline_engine::events::EventNotifier;
use goonline_engine::metrics::Metrics;
use goonline_engine::ops::idempotency::IdempotencyStore;
use goonline_engine::ops::{OpError, OpsBuilder, UserRef};
use goonline_engine::tenancy::Tenancy;
use goonline_engine::testing::TestDb;
use goonline_engine::topics::{TopicKinds, Topics, TopicsConfig};
use goonline_engine::workspaces::Workspaces;
use goonline_engine::{Engine, EngineParts, now_ms};
use serde_json::{Value, json};

use super::tenancy_world::{World, user};
use super::{Client, quick_config};

pub const WAIT: Duration = Duration::from_secs(10);

/// The grace period the world's workspaces service keeps deleted documents.
pub const GRACE: Duration = Duration::from_secs(3 * 24 * 3600);

/// A world plus its workspaces service and the clock offset it reads.
pub struct WsWorld {
    pub w: World,
    pub workspaces: Workspaces,
    /// Added to the real time (ms) the workspaces service sees.
    pub offset: Arc<AtomicI64>,
    /// Wakes when an event commits.
    pub notifier: EventNotifier,
}

impl Deref for WsWorld {
    type Target = World;
    fn deref(&self) -> &World {
        &self.w
    }
}

pub async fn ws_world(db: &TestDb) -> WsWorld {
    let store = db.store().await;
    let access = Arc::new(NamespacePolicy::new(store.clone(), false));
    let engine = Engine::start(EngineParts {
        config: quick_config(),
        store: Arc::new(store.clone()),
        bus: LocalBus::new(),
        access: access.clone(),
        metrics: Arc::new(Metrics::default()),
    });
    let audit = AuditLog::new(store.clone());
    let mut kinds = TopicKinds::new();
    comments::register_kinds(&mut kinds, access.clone());
    let topics = Topics::start(store.clone(), kinds, TopicsConfig::default());
    engine.set_topics(topics.clone());
    let tenancy = Tenancy::new(store.clone(), audit.clone(), engine.clone());
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let notifier = EventNotifier::default();
    let workspaces = Workspaces::new(
        store.clone(),
        engine.clone(),
        audit.clone(),
        notifier.clone(),
    )
    .with_delete_grace(GRACE)
    .with_clock(Arc::new(move || {
        now_ms() + clock_offset.load(Ordering::SeqCst)
    }));
    let mut ops = OpsBuilder::new();
    tenancy.register_ops(&mut ops);
    topics.register_ops(&mut ops);
    Comments::new(store.clone(), topics.clone(), access).register_ops(&mut ops);
    workspaces.register_ops(&mut ops);
    let registry = Arc::new(ops.build(
        Arc::new(tenancy),
        IdempotencyStore::new(store.clone(), Duration::from_secs(24 * 3600)),
    ));
    WsWorld {
        w: World {
            registry,
            db: store,
            audit,
            engine,
            topics,
        },
        workspaces,
        offset,
        notifier,
    }
}

/// Everyone a lifecycle test needs: an owner, an admin, an agent and a viewer
/// of one business, two future guests and a stranger.
pub struct Cast {
    pub business: String,
    pub owner: String,
    pub admin: String,
    pub agent: String,
    pub viewer: String,
    pub guest_r: String,
    pub guest_w: String,
    pub stranger: String,
}

impl WsWorld {
    pub async fn cast(&self) -> Cast {
        let owner = user(self, "owner").await;
        let admin = user(self, "admin").await;
        let agent = user(self, "agent").await;
        let viewer = user(self, "viewer").await;
        let guest_r = user(self, "reader").await;
        let guest_w = user(self, "partner").await;
        let stranger = user(self, "stranger").await;
        let business = self
            .shop(
                &owner,
                &[("admin", "admin"), ("agent", "agent"), ("viewer", "viewer")],
            )
            .await;
        Cast {
            business,
            owner,
            admin,
            agent,
            viewer,
            guest_r,
            guest_w,
            stranger,
        }
    }

    /// Moves the workspaces service's clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// `who` creates workspace `name` in `business`; returns its id.
    pub async fn workspace(&self, who: &str, business: &str, name: &str) -> String {
        let ws = self
            .call(
                who,
                "workspace.create",
                json!({ "business_id": business, "name": name }),
            )
            .await
            .unwrap_or_else(|e| panic!("workspace.create: {e:?}"));
        s(&ws, "id")
    }

    /// `who` creates a text document in a workspace; returns it.
    pub async fn doc(&self, who: &str, business: &str, workspace: &str, title: &str) -> Value {
        self.call(
            who,
            "doc.create",
            json!({ "business_id": business, "workspace_id": workspace, "title": title, "kind": "text" }),
        )
        .await
        .unwrap_or_else(|e| panic!("doc.create: {e:?}"))
    }

    /// `owner` invites `guest` (by their test email, `{name}@example.com`)
    /// with `access`, and the guest accepts.
    pub async fn add_guest(
        &self,
        owner: &str,
        business: &str,
        workspace: &str,
        email_name: &str,
        guest: &str,
        access: &str,
    ) {
        let token = self
            .invite(owner, business, workspace, email_name, access)
            .await;
        self.call(guest, "guest.accept", json!({ "token": token }))
            .await
            .unwrap_or_else(|e| panic!("guest.accept: {e:?}"));
    }

    /// `who` invites `{email_name}@example.com`; returns the token.
    pub async fn invite(
        &self,
        who: &str,
        business: &str,
        workspace: &str,
        email_name: &str,
        access: &str,
    ) -> String {
        let inv = self
            .call(
                who,
                "guest.invite",
                json!({
                    "business_id": business, "workspace_id": workspace,
                    "email": format!("{email_name}@example.com"), "access": access,
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("guest.invite: {e:?}"));
        s(&inv, "token")
    }

    /// The domain events of `kind` written so far: (subject, actor, data).
    pub async fn events(&self, kind: &str) -> Vec<(String, Option<String>, Value)> {
        let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT subject, actor, data FROM domain_events WHERE type = $1 ORDER BY pos",
        )
        .bind(kind)
        .fetch_all(self.db.pool())
        .await
        .expect("domain events");
        rows.into_iter()
            .map(|(s, a, d)| (s, a, serde_json::from_str(&d).expect("event data")))
            .collect()
    }

    /// How many audit entries with `action` there are.
    pub async fn audited(&self, action: &str) -> usize {
        self.audit
            .list(None, 1000, Some(action))
            .await
            .expect("audit list")
            .len()
    }

    /// Rows stored for document `name` in `table` (column `doc`).
    pub async fn rows(&self, table: &str, name: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE doc = $1"))
            .bind(name)
            .fetch_one(self.db.pool())
            .await
            .expect("count")
    }
}

/// Types `text` into `doc` as `c` and waits until it is durable.
pub async fn type_durably(c: &mut Client, doc: &str, text: &str) {
    let id = c.type_text(doc, text);
    assert!(
        c.until(WAIT, |c| c.acks.contains(&Some(id))).await,
        "edit acknowledged"
    );
}

/// A client session signed in as `user`.
pub fn signed_in(engine: &Engine, user: &str) -> Client {
    let mut c = Client::connect(engine);
    c.session.set_user(UserRef {
        id: user.to_string(),
        platform_admin: false,
        session: format!("s-{user}"),
    });
    c
}

/// Waits until the engine asked `c`'s transport to re-check access, then
/// re-checks as the transport would; returns (document, new grant or `None`
/// when closed, reason).
pub async fn recheck(c: &mut Client) -> Vec<(String, Option<String>, String)> {
    tokio::time::timeout(WAIT, c.events.kill.recheck_requested())
        .await
        .expect("the engine asked for a re-check");
    c.session
        .recheck_access()
        .await
        .into_iter()
        .map(|ch| {
            (
                ch.key.to_string(),
                ch.grant.map(|g| format!("{g:?}")),
                ch.reason,
            )
        })
        .collect()
}

pub fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {v}"))
        .to_string()
}

pub fn code(r: &Result<Value, OpError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

pub fn message(r: &Result<Value, OpError>) -> String {
    match r {
        Ok(v) => format!("ok: {v}"),
        Err(e) => e.to_string(),
    }
}
