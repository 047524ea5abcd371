//! The GoOnline engine: live Yrs documents, durable and shared.
//!
//! - [`Engine`]: the registry of rooms, connections and background tasks.
//! - [`Session`]: one connection's view, independent of the wire dialect.
//! - [`room::Room`]: one live document, its awareness and its sessions.
//! - [`store::Store`] and [`sql_store::SqlStore`]: the durable update log and
//!   snapshots on SQLite or Postgres; [`persist`] commits them in groups.
//! - [`bus::Bus`]: how nodes share updates ([`bus::LocalBus`] in-process).
//! - [`access::AccessPolicy`]: consulted on every open and every write.
//!
//! Dependencies point one way: the server uses the engine, the engine uses the
//! protocol crate, and never the other way round.

pub mod access;
pub mod awareness;
pub mod bus;
mod coalesce;
pub mod config;
mod doc_apply;
mod engine;
pub mod error;
pub mod metrics;
pub mod outbound;
mod persist;
pub mod room;
pub mod session;
pub mod sql_store;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::EngineConfig;
pub use engine::{Engine, EngineParts};
pub use error::EngineError;
pub use session::{Session, SessionEvents};
