//! Running as one node of several: the bus this node talks to the others on,
//! whether that bus is healthy enough for the node to be ready, and the
//! per-user connection limit and the sign-in attempt limits counted across
//! the cluster.
//!
//! Without `--redis-url` the node runs alone: the in-process bus (nothing is
//! published) and a per-user limit counted on this node.

mod buckets;
mod redis_link;
mod user_conns;

use std::sync::Arc;
use std::time::Duration;

use goonline_engine::Engine;
use goonline_engine::bus::redis::{RedisBus, RedisBusConfig};
use goonline_engine::bus::{Bus, LocalBus};
use goonline_engine::metrics::Metrics;

pub use buckets::SharedBuckets;
pub use user_conns::{Admission, UserConnections};

use crate::config::ClusterArgs;
use crate::error::ServerError;

/// The bus these flags ask for. A cluster's nodes must sign tokens with one
/// secret: a node with a secret of its own (generated into its data dir)
/// would refuse every token another node issued, so joining without
/// `--jwt-secret` is refused.
pub fn bus(
    args: &ClusterArgs,
    jwt_secret: Option<&str>,
    metrics: &Arc<Metrics>,
) -> Result<Arc<dyn Bus>, ServerError> {
    match &args.redis_url {
        None => Ok(LocalBus::new()),
        Some(_) if jwt_secret.is_none() => Err(ServerError::Startup(
            "--redis-url needs --jwt-secret (GOONLINE_JWT_SECRET): every node of a cluster \
             must sign tokens with the same secret"
                .into(),
        )),
        Some(url) => {
            let mut config =
                RedisBusConfig::new(url.clone()).with_prefix(args.redis_prefix.clone());
            config.drop_every = args.bus_fault_drop_every.filter(|n| *n > 0);
            let bus = RedisBus::start(config, metrics.clone())
                .map_err(|e| ServerError::Startup(format!("--redis-url: {e}")))?;
            tracing::info!(prefix = %args.redis_prefix, "joined the cluster on Redis");
            Ok(bus)
        }
    }
}

/// Why a node cannot deliver what its clients expect, if it cannot.
pub fn bus_unready(engine: &Engine, grace: Duration) -> Option<String> {
    let health = engine.bus_health();
    match health.down_since {
        Some(since) if !health.connected && since.elapsed() >= grace => Some(format!(
            "the bus to the other nodes has been down for {} s",
            since.elapsed().as_secs()
        )),
        _ => None,
    }
}
