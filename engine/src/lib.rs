//! The GoOnline engine: live Yrs documents, durable and shared.
//!
//! - [`Engine`]: the registry of rooms, connections and background tasks.
//! - [`Session`]: one connection's view, independent of the wire dialect.
//! - [`room::Room`]: one live document, its awareness and its sessions.
//! - [`store::Store`] and [`sql_store::SqlStore`]: the durable update log and
//!   snapshots on SQLite or Postgres; [`persist`] commits them in groups.
//! - [`bus::Bus`]: how nodes share updates ([`bus::LocalBus`] in-process).
//! - [`access::AccessPolicy`]: what a session may do with a document (namespaces
//!   and roles), asked at open and whenever the user's roles change.
//! - [`ops`]: the operation registry every feature defines its methods in.
//! - [`tenancy`]: businesses, members and roles; [`audit`]: the audit log.
//! - [`topics`]: ordered durable streams (chat, comments, metrics), replayed
//!   then live.
//! - [`chat`]: chat panels (channels, direct chats, messages) on topics.
//! - [`comments`]: comment threads on documents, anchored, resolvable, live on
//!   each document's comments topic.
//!
//! Dependencies point one way: the server uses the engine, the engine uses the
//! protocol crate, and never the other way round.

pub mod access;
pub mod activity;
pub mod audit;
pub mod awareness;
pub mod bus;
pub mod chat;
mod clock;
mod cluster;
mod coalesce;
pub mod comments;
pub mod config;
mod doc_apply;
pub mod doc_tree;
pub mod door;
pub mod door_ops;
mod engine;
pub mod error;
pub mod events;
pub mod limits;
pub mod metrics;
pub mod ops;
pub mod outbound;
mod persist;
pub mod room;
pub mod session;
pub mod sql_store;
pub mod store;
#[cfg(feature = "testing")]
pub mod tcp_proxy;
pub mod tenancy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod topics;
pub mod update_guard;
mod user_sessions;
pub mod versions;
pub mod workspaces;

pub use clock::now_ms;
pub use config::EngineConfig;
pub use engine::{Engine, EngineParts};
pub use error::EngineError;
pub use session::{AccessChange, AccessTarget, Session, SessionEvents};
