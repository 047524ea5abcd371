//! The `goonline` server: configuration, the axum router with the three WebSocket
//! dialects, health and metrics endpoints, and graceful shutdown.
//!
//! The binary (`main.rs`) only parses flags and calls [`run`]; tests call
//! [`start`] to run a real server on an ephemeral port.

pub mod api;
pub mod app;
pub mod config;
mod docs;
pub mod error;
pub mod health;
pub mod http;
pub mod identity;
pub mod limits;
mod topics;
mod webhooks;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use goonline_engine::access::{AccessPolicy, NamespacePolicy};
use goonline_engine::audit::AuditLog;
use goonline_engine::bus::LocalBus;
use goonline_engine::metrics::Metrics;
use goonline_engine::ops::OpsBuilder;
use goonline_engine::ops::idempotency::IdempotencyStore;
use goonline_engine::sql_store::SqlStore;
use goonline_engine::store::Store;
use goonline_engine::tenancy::Tenancy;
use goonline_engine::{Engine, EngineParts};
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::config::ServeArgs;
use crate::error::ServerError;

/// Connects the store, starts the engine and binds the listener; returns the
/// bound address and the future that serves until `shutdown` resolves (and then
/// drains). `Ok(true)` from that future means everything acknowledged was flushed.
pub async fn start<F>(
    args: &ServeArgs,
    shutdown: F,
) -> Result<
    (
        SocketAddr,
        impl Future<Output = std::io::Result<bool>> + use<F>,
    ),
    ServerError,
>
where
    F: Future<Output = ()> + Send + 'static,
{
    let url = args.database_url();
    if args.database_url.is_none() {
        std::fs::create_dir_all(&args.data_dir).map_err(|e| {
            ServerError::Startup(format!(
                "cannot create data dir {}: {e}",
                args.data_dir.display()
            ))
        })?;
    }
    let store = SqlStore::connect(&url)
        .await
        .map_err(|e| ServerError::Startup(format!("cannot open the database: {e}")))?;
    start_with_store(args, store.clone(), Arc::new(store), shutdown).await
}

/// Like [`start`], with stores the caller built: `db` for accounts, businesses
/// and the other tables, `store` for the document log (tests inject faults
/// there).
pub async fn start_with_store<F>(
    args: &ServeArgs,
    db: SqlStore,
    store: Arc<dyn Store>,
    shutdown: F,
) -> Result<
    (
        SocketAddr,
        impl Future<Output = std::io::Result<bool>> + use<F>,
    ),
    ServerError,
>
where
    F: Future<Output = ()> + Send + 'static,
{
    let access: Arc<dyn AccessPolicy> = Arc::new(NamespacePolicy::new(
        db.clone(),
        args.security.allow_anonymous_docs,
    ));
    let engine = Engine::start(EngineParts {
        config: args.engine_config(),
        store,
        bus: LocalBus::new(),
        access: access.clone(),
        metrics: Arc::new(Metrics::default()),
    });
    let audit = AuditLog::new(db.clone());
    let public_url = args
        .security
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let identity = identity::Identity::new(
        db.clone(),
        engine.clone(),
        audit.clone(),
        &args.security,
        &args.data_dir,
        public_url,
    )
    .await?;
    let tenancy = Tenancy::new(db.clone(), audit.clone(), engine.clone());
    let mut ops = OpsBuilder::new();
    identity.register_ops(&mut ops);
    tenancy.register_ops(&mut ops);
    topics::start(&args.topics, &db, &engine, &audit, access, &mut ops)?;
    docs::start(&args.docs, &db, &engine, &audit, &mut ops)?;
    let keep = Duration::from_secs(args.security.idempotency_keep_hours.max(24) * 3600);
    let registry = Arc::new(ops.build(Arc::new(tenancy), IdempotencyStore::new(db.clone(), keep)));
    spawn_purges(Arc::downgrade(&registry), identity.downgrade());
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| ServerError::Startup(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Startup(format!("no local address: {e}")))?;
    let state = AppState::new(
        engine,
        Duration::from_secs(args.heartbeat_secs.max(1)),
        Duration::from_secs(args.write_timeout_secs.max(1)),
        app::Services {
            registry,
            identity,
            security: Arc::new(args.security.clone()),
        },
    );
    Ok((addr, app::serve(listener, state, shutdown)))
}

/// Once an hour, for as long as the server lives: deletes idempotency keys
/// past their retention, and expired identity rows (refresh tokens, sessions,
/// pending external sign-ins, unusable invitations). Holds neither service
/// alive.
fn spawn_purges(
    registry: std::sync::Weak<goonline_engine::ops::Registry>,
    identity: identity::purge::WeakIdentity,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            let Some(registry) = registry.upgrade() else {
                return;
            };
            match registry.idempotency().purge_expired().await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency keys deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
            }
            drop(registry);
            let Some(identity) = identity.upgrade() else {
                return;
            };
            // It logs what it deleted.
            if let Err(e) = identity.purge_expired().await {
                tracing::warn!(error = %e, "identity purge failed");
            }
        }
    });
}
