//! The `goonline` server: configuration, the axum router with the three WebSocket
//! dialects, health and metrics endpoints, and graceful shutdown.
//!
//! The binary (`main.rs`) only parses flags and calls [`run`]; tests call
//! [`start`] to run a real server on an ephemeral port.

pub mod api;
pub mod app;
pub mod backup;
pub mod cluster;
pub mod config;
mod docs;
pub mod error;
pub mod health;
pub mod http;
pub mod identity;
pub mod limits;
pub mod tls;
mod topics;
mod webhooks;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use goonline_engine::access::{AccessPolicy, NamespacePolicy};
use goonline_engine::audit::AuditLog;
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
    // Held while serving: `goonline restore` must not swap the file under us.
    let lock = backup::StoreLock::for_serve(&url)?;
    let store = SqlStore::connect(&url)
        .await
        .map_err(|e| ServerError::Startup(format!("cannot open the database: {e}")))?;
    let (addr, serve) = start_with_store(args, store.clone(), Arc::new(store), shutdown).await?;
    Ok((addr, async move {
        let served = serve.await;
        drop(lock);
        served
    }))
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
    let tls = tls::load(&args.tls).map_err(|e| ServerError::Startup(format!("TLS: {e}")))?;
    let access: Arc<dyn AccessPolicy> = Arc::new(NamespacePolicy::new(
        db.clone(),
        args.security.allow_anonymous_docs,
    ));
    let metrics = Arc::new(Metrics::default());
    let bus = cluster::bus(&args.cluster, args.security.jwt_secret.as_deref(), &metrics)?;
    let engine = Engine::start(EngineParts {
        config: args.engine_config(),
        store,
        bus,
        access: access.clone(),
        metrics,
    });
    let user_conns = cluster::UserConnections::start(
        engine.clone(),
        args.security.max_connections_per_user,
        args.cluster.redis_url.as_deref(),
        &args.cluster.redis_prefix,
    )
    .map_err(|e| ServerError::Startup(format!("--redis-url: {e}")))?;
    let audit = AuditLog::new(db.clone());
    let public_url = args
        .security
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{}://{}", args.tls.scheme(), args.listen));
    let identity = identity::Identity::new(
        db.clone(),
        engine.clone(),
        audit.clone(),
        &args.security,
        &args.data_dir,
        public_url,
    )
    .await?;
    if let Some(url) = &args.cluster.redis_url {
        let buckets = cluster::SharedBuckets::open(url, &args.cluster.redis_prefix)
            .map_err(|e| ServerError::Startup(format!("--redis-url: {e}")))?;
        identity.share_attempt_limits(Arc::new(buckets));
    }
    if args.cluster.redis_url.is_some() {
        // Sign-outs reach other nodes on the bus, at most once: make up for
        // a lost one after an outage and periodically.
        let weak = identity.downgrade();
        engine.on_resync(Arc::new(move || {
            if let Some(identity) = weak.upgrade() {
                tokio::spawn(async move {
                    if let Err(e) = identity.recheck_live_sign_ins().await {
                        tracing::warn!(error = %e, "re-checking sign-ins after a bus outage failed");
                    }
                });
            }
        }));
        identity::spawn_periodic_recheck(identity.downgrade());
    }
    let tenancy = Tenancy::new(db.clone(), audit.clone(), engine.clone());
    let mut ops = OpsBuilder::new();
    identity.register_ops(&mut ops);
    tenancy.register_ops(&mut ops);
    topics::start(&args.topics, &db, &engine, &audit, access, &mut ops)?;
    docs::start(&args.docs, &db, &engine, &audit, &mut ops)?;
    let keep = Duration::from_secs(args.security.idempotency_keep_hours.max(24) * 3600);
    let registry = Arc::new(ops.build(Arc::new(tenancy), IdempotencyStore::new(db.clone(), keep)));
    spawn_purges(Arc::downgrade(&registry), identity.downgrade());
    let listener = listen(args.listen)
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
            user_conns,
            bus_down_grace: Duration::from_secs(args.cluster.bus_down_grace_secs),
            security: Arc::new(config::SecurityArgs {
                // Served over TLS: browsers should keep to HTTPS (HSTS).
                tls: args.security.tls || tls.is_some(),
                ..args.security.clone()
            }),
        },
    );
    Ok((addr, app::serve(listener, tls, state, shutdown)))
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

/// Connections the kernel may queue before `accept` (capped by
/// `net.core.somaxconn`). The default of 128 (std's, and tokio's `bind`) drops
/// the SYNs of a reconnect burst beyond it, and each dropped client waits out a
/// one-second retransmission: 200 sockets opened at once took 1.06 s instead of
/// 0.09 s in `benches/sdk.sh`.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server rebinds at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
