//! Topics on this server: the kinds every feature registers (chat, comments,
//! metrics; with the retention the flags override), the topics service
//! attached to the engine, the operations built on topics (history, chat,
//! comments), and the operational metrics feed.

use std::sync::Arc;
use std::time::Duration;

use goonline_engine::Engine;
use goonline_engine::access::AccessPolicy;
use goonline_engine::audit::AuditLog;
use goonline_engine::chat::{self, Chat, ChatLimits};
use goonline_engine::comments::{self, Comments};
use goonline_engine::ops::OpsBuilder;
use goonline_engine::sql_store::SqlStore;
use goonline_engine::topics::feed::{register_metrics_kind, spawn_operational_feed};
use goonline_engine::topics::{TopicKinds, Topics, TopicsConfig};

use crate::config::TopicArgs;
use crate::error::ServerError;

/// Starts the topics service and registers what is built on it.
pub(crate) fn start(
    args: &TopicArgs,
    db: &SqlStore,
    engine: &Engine,
    audit: &AuditLog,
    access: Arc<dyn AccessPolicy>,
    ops: &mut OpsBuilder,
) -> Result<Topics, ServerError> {
    let mut kinds = TopicKinds::new();
    for (kind, retention) in &args.retention {
        kinds.set_retention(kind, *retention);
    }
    chat::register_kinds(&mut kinds, db);
    comments::register_kinds(&mut kinds, access.clone());
    register_metrics_kind(&mut kinds, db);
    let unknown = kinds.unknown_overrides();
    if !unknown.is_empty() {
        let mut known: Vec<&str> = kinds.iter().map(|k| k.name).collect();
        known.sort_unstable();
        return Err(ServerError::Startup(format!(
            "--topic-retention names unknown topic kinds {unknown:?}; the kinds are {known:?}"
        )));
    }
    let topics = Topics::start_counted(
        db.clone(),
        kinds,
        TopicsConfig {
            trim_interval: Duration::from_secs(args.trim_secs.max(1)),
            max_subscriptions: args.max_subscriptions.max(1),
            ..TopicsConfig::default()
        },
        engine.metrics().clone(),
    );
    engine.set_topics(topics.clone());
    topics.register_ops(ops);
    let limits = ChatLimits {
        send_burst: args.chat_sends_per_10s.max(1),
        send_window: Duration::from_secs(10),
        action_burst: args.chat_actions_per_10s.max(1),
        action_window: Duration::from_secs(10),
    };
    Chat::with_limits(db.clone(), topics.clone(), audit.clone(), limits).register_ops(ops);
    Comments::new(db.clone(), topics.clone(), access).register_ops(ops);
    if args.metrics_feed_secs > 0 {
        spawn_operational_feed(
            &topics,
            engine.metrics().clone(),
            uuid::Uuid::now_v7().to_string(),
            Duration::from_secs(args.metrics_feed_secs),
        );
    }
    Ok(topics)
}
