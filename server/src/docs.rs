//! Documents as first-class things on this server: workspaces, documents and
//! guests; versions and edit activity; the REST door to every document; and
//! outbound webhooks fed by the domain-event outbox. Each part registers its
//! operations here and starts its background tasks.

use std::time::Duration;

use goonline_engine::Engine;
use goonline_engine::audit::AuditLog;
use goonline_engine::door_ops::register_door_ops;
use goonline_engine::events::EventNotifier;
use goonline_engine::ops::OpsBuilder;
use goonline_engine::sql_store::SqlStore;
use goonline_engine::versions::{Versions, VersionsConfig};
use goonline_engine::workspaces::Workspaces;

use crate::config::DocArgs;
use crate::error::ServerError;

/// Starts the document services and registers their operations.
pub(crate) fn start(
    args: &DocArgs,
    db: &SqlStore,
    engine: &Engine,
    audit: &AuditLog,
    ops: &mut OpsBuilder,
) -> Result<(), ServerError> {
    // Wakes the outbox consumers when an event commits.
    let events = EventNotifier::default();
    let _ = (args, db, engine, audit, &ops, &events);
    // --- workspaces, documents and guests ---
    let grace = Duration::from_secs(args.doc_delete_grace_days.saturating_mul(24 * 3600));
    let workspaces = Workspaces::new(db.clone(), engine.clone(), audit.clone(), events.clone())
        .with_delete_grace(grace);
    workspaces.register_ops(ops);
    // Finishes interrupted moves and purges the trash now and then hourly.
    workspaces.spawn_housekeeping(Duration::from_secs(3600));
    // --- versions and activity ---
    let versions = Versions::start(
        db.clone(),
        engine.clone(),
        events.clone(),
        versions_config(args),
    );
    engine.set_activity(versions.activity());
    versions.register_ops(ops);
    // --- REST door ---
    register_door_ops(engine, ops);
    // --- webhooks ---
    crate::webhooks::start(args, db, engine, &events, ops)?;
    Ok(())
}

/// The versions service's timers, from the flags.
fn versions_config(args: &DocArgs) -> VersionsConfig {
    VersionsConfig {
        flush_interval: Duration::from_millis(args.activity_flush_ms.max(10)),
        changed_quiet: Duration::from_secs(args.doc_changed_quiet_secs),
        changed_max_interval: Duration::from_secs(args.doc_changed_max_interval_secs.max(1)),
        auto_version_quiet: (args.auto_version_quiet_secs > 0)
            .then(|| Duration::from_secs(args.auto_version_quiet_secs)),
    }
}
