//! The `goonline` server: configuration, the axum router with the three WebSocket
//! dialects, health and metrics endpoints, and graceful shutdown.
//!
//! The binary (`main.rs`) only parses flags and calls [`run`]; tests call
//! [`start`] to run a real server on an ephemeral port.

pub mod app;
pub mod config;
pub mod error;
pub mod health;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use goonline_engine::access::AllowAll;
use goonline_engine::bus::LocalBus;
use goonline_engine::metrics::Metrics;
use goonline_engine::sql_store::SqlStore;
use goonline_engine::store::Store;
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
    start_with_store(args, Arc::new(store), shutdown).await
}

/// Like [`start`], with a store the caller built (tests inject faults this way).
pub async fn start_with_store<F>(
    args: &ServeArgs,
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
    let engine = Engine::start(EngineParts {
        config: args.engine_config(),
        store,
        bus: LocalBus::new(),
        access: Arc::new(AllowAll),
        metrics: Arc::new(Metrics::default()),
    });
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
    );
    Ok((addr, app::serve(listener, state, shutdown)))
}
