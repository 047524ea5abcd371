//! Outbound webhooks: a business's endpoints receive its domain events
//! (`doc.created`, `workspace.renamed`, ...) as signed HTTP POSTs, with
//! retries, a delivery log and manual redelivery (`docs/webhooks.md`).
//!
//! The flow, every step a row in the database so a restart neither loses
//! nor repeats anything:
//! 1. A feature writes a domain event in the transaction of its change
//!    (`goonline_engine::events`).
//! 2. The [`dispatch`] task reads undispatched events in `pos` order and, in
//!    one transaction per batch, inserts one delivery per matching active
//!    endpoint (`UNIQUE (endpoint_id, event_id)`) and marks the events
//!    dispatched.
//! 3. The [`send`] task claims due deliveries (a lease in one conditional
//!    UPDATE, so two servers never send the same attempt), POSTs them signed
//!    ([`signing`]) through [`client`], and records every attempt; a failure
//!    is retried on the [`schedule`], until it succeeds or is given up.
//!
//! The operations (`webhook.*`, in [`ops`]) manage endpoints ([`endpoints`])
//! and read the delivery log ([`log`]); [`params`] has their types.

mod client;
mod dispatch;
mod endpoints;
mod log;
mod ops;
mod params;
mod patterns;
mod schedule;
mod send;
mod signing;

use std::sync::Arc;
use std::time::Duration;

use goonline_engine::Engine;
use goonline_engine::events::EventNotifier;
use goonline_engine::ops::OpsBuilder;
use goonline_engine::sql_store::SqlStore;
use sqlx::AnyPool;
use tokio::sync::Notify;

use crate::config::DocArgs;
use crate::error::ServerError;

/// Most endpoints one business may have.
const MAX_ENDPOINTS: i64 = 20;

/// How the sender behaves (from the `--webhook-*` flags).
#[derive(Debug, Clone)]
struct Settings {
    /// The first retry's delay; later ones are multiples ([`schedule`]).
    retry_base: Duration,
    /// Attempts before a delivery is given up.
    max_attempts: i64,
    /// How long an endpoint has to answer.
    timeout: Duration,
    /// Attempts in flight at once.
    concurrency: usize,
    /// Whether non-public addresses are refused.
    block_private: bool,
    /// How long finished deliveries stay in the log.
    keep_log: Duration,
}

impl Settings {
    fn from_args(args: &DocArgs) -> Settings {
        Settings {
            retry_base: Duration::from_millis(args.webhook_retry_base_ms.max(1)),
            max_attempts: i64::from(args.webhook_max_attempts.max(1)),
            timeout: Duration::from_secs(args.webhook_timeout_secs.max(1)),
            concurrency: args.webhook_concurrency.max(1),
            block_private: !args.webhook_allow_private_addresses,
            keep_log: Duration::from_secs(args.webhook_log_keep_days.max(1) * 86_400),
        }
    }

    /// How long a claimed attempt holds its delivery: the answer's timeout
    /// plus a margin for recording it. After that (the sending server
    /// stopped mid-attempt) another sender may claim the delivery again.
    fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// The webhooks service: shared by the operations and the two tasks.
#[derive(Clone)]
pub(crate) struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    settings: Settings,
    client: client::Client,
    /// Wakes the sender (new deliveries, a redelivery, a test).
    wake: Notify,
    /// Delivery counters shown on `/metrics`.
    metrics: Arc<goonline_engine::metrics::Metrics>,
}

impl Webhooks {
    fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn metrics(&self) -> &goonline_engine::metrics::Metrics {
        &self.inner.metrics
    }

    /// Tells the sender there is something to send.
    fn wake_sender(&self) {
        self.inner.wake.notify_one();
    }
}

/// Registers the `webhook.*` operations and starts the dispatcher and the
/// sender; both stop when the engine starts draining.
pub(crate) fn start(
    args: &DocArgs,
    db: &SqlStore,
    engine: &Engine,
    events: &EventNotifier,
    ops: &mut OpsBuilder,
) -> Result<(), ServerError> {
    let settings = Settings::from_args(args);
    let client = client::Client::new(&settings)
        .map_err(|e| ServerError::Startup(format!("cannot build the webhook client: {e}")))?;
    let hooks = Webhooks {
        inner: Arc::new(Inner {
            pool: db.pool().clone(),
            settings,
            client,
            wake: Notify::new(),
            metrics: engine.metrics().clone(),
        }),
    };
    hooks.register_ops(ops);
    tokio::spawn(dispatch::run(hooks.clone(), engine.clone(), events.clone()));
    tokio::spawn(send::run(hooks, engine.clone()));
    Ok(())
}
