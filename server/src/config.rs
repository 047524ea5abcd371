//! Command-line flags with `GOONLINE_*` environment fallbacks: the one place the
//! server's configuration is defined. A fresh start needs none of them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use goonline_engine::EngineConfig;

/// GoOnline: a real-time collaboration engine.
#[derive(Debug, Parser)]
#[command(name = "goonline", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags for `goonline serve`.
#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "GOONLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database (created if missing).
    #[arg(long, env = "GOONLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL (`postgres://...` or `sqlite://...`); default: SQLite in the data dir.
    #[arg(long, env = "GOONLINE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, env = "GOONLINE_MAX_FRAME_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Largest document kept, in bytes of encoded state.
    #[arg(long, env = "GOONLINE_MAX_DOC_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_doc_bytes: usize,
    /// Most documents open on one connection.
    #[arg(long, env = "GOONLINE_MAX_OPEN_DOCS", default_value_t = 256)]
    pub max_open_docs: usize,
    /// Most connections at once (the process's open-files limit also applies).
    #[arg(long, env = "GOONLINE_MAX_CONNECTIONS", default_value_t = 19_000)]
    pub max_connections: usize,
    /// Outbound queue per connection, in messages; a client that falls this far
    /// behind is closed with 4429.
    #[arg(long, env = "GOONLINE_SESSION_QUEUE", default_value_t = 1024)]
    pub session_queue: usize,
    /// Snapshot a document after this many logged updates.
    #[arg(long, env = "GOONLINE_SNAPSHOT_EVERY_UPDATES", default_value_t = 500)]
    pub snapshot_every_updates: u64,
    /// ... or after this many logged bytes.
    #[arg(long, env = "GOONLINE_SNAPSHOT_EVERY_BYTES", default_value_t = 1024 * 1024)]
    pub snapshot_every_bytes: u64,
    /// Evict a document this many seconds after its last session left.
    #[arg(long, env = "GOONLINE_ROOM_IDLE_SECS", default_value_t = 30)]
    pub room_idle_secs: u64,
    /// Group commits start at most once per this many ms (updates arriving
    /// meanwhile share the transaction; an isolated update is not delayed).
    #[arg(long, env = "GOONLINE_COMMIT_INTERVAL_MS", default_value_t = 10)]
    pub commit_interval_ms: u64,
    /// A document relays awareness (presence) at most once per this many ms.
    #[arg(long, env = "GOONLINE_AWARENESS_COALESCE_MS", default_value_t = 50)]
    pub awareness_coalesce_ms: u64,
    /// Server heartbeat interval in seconds; silent connections close after three.
    #[arg(long, env = "GOONLINE_HEARTBEAT_SECS", default_value_t = 15)]
    pub heartbeat_secs: u64,
    /// Seconds a write to one client may block before it is closed as too slow.
    #[arg(long, env = "GOONLINE_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub write_timeout_secs: u64,
    /// Log format.
    #[arg(long, env = "GOONLINE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl ServeArgs {
    /// The database URL to use: the flag, or SQLite under the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("goonline.db").display()
            ),
        }
    }

    /// The engine settings these flags describe.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            max_frame_bytes: self.max_frame_bytes,
            max_doc_bytes: self.max_doc_bytes,
            max_open_docs: self.max_open_docs,
            max_connections: self.max_connections,
            session_queue: self.session_queue.max(16),
            snapshot_every_updates: self.snapshot_every_updates.max(1),
            snapshot_every_bytes: self.snapshot_every_bytes.max(1),
            room_idle_timeout: Duration::from_secs(self.room_idle_secs),
            awareness_coalesce: Duration::from_millis(self.awareness_coalesce_ms),
            commit_interval: Duration::from_millis(self.commit_interval_ms),
            ..EngineConfig::default()
        }
    }

    /// Defaults, as if no flag were given (for tests).
    pub fn defaults() -> ServeArgs {
        ServeArgs::parse_from(["serve"])
    }
}
