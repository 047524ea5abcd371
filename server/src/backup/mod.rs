//! `goonline backup` and `goonline restore`: online backups of the embedded
//! SQLite store, and putting one back.
//!
//! A backup is `VACUUM INTO` on a connection of its own: one read transaction,
//! so the copy is the database as of one instant even while the server keeps
//! committing (WAL mode lets readers and the writer proceed together). It is
//! written under a temporary name, checked, flushed and only then given its
//! name. A restore checks the file, takes the lock a running server holds
//! ([`StoreLock`]), keeps the database it replaces, and clears the replaced
//! database's `-wal`/`-shm` files, which SQLite would otherwise apply to the
//! restored one. Postgres is backed up with its own tools (`pg_dump`), as
//! `docs/deploy.md` describes.

mod file;
mod lock;
mod restore;
mod take;

use std::path::PathBuf;

use clap::Args;

pub use lock::{LockError, StoreLock};
pub use restore::restore;
pub use take::backup;

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is Postgres: its own tools do this.
    #[error(
        "{command} handles the embedded SQLite database; this one is Postgres: use {tool} \
         (see docs/deploy.md, \"Backups\")"
    )]
    Postgres {
        /// `goonline backup` or `goonline restore`.
        command: &'static str,
        /// What to use instead.
        tool: &'static str,
    },
    /// Not a database URL we know.
    #[error("unsupported database URL `{0}` (expected sqlite://... or postgres://...)")]
    UnsupportedUrl(String),
    /// An in-memory SQLite database has no file.
    #[error("the database is in memory: there is no file to back up or restore")]
    InMemory,
    /// No database where one is expected.
    #[error("no database at {}", .0.display())]
    Missing(PathBuf),
    /// A file that is not a sound GoOnline database.
    #[error("{} is not a GoOnline database: {reason}", path.display())]
    NotGoOnline {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The output exists and `--force` was not given.
    #[error("{} already exists (pass --force to replace it)", .0.display())]
    Exists(PathBuf),
    /// The restore would copy a database onto itself.
    #[error("{} is the database itself", .0.display())]
    SameFile(PathBuf),
    /// A server holds the database.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// An SQL statement failed.
    #[error("{what}: {source}")]
    Sql {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: sqlx::Error,
    },
}

/// Flags for `goonline backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// File to write the backup to (a single SQLite file).
    #[arg(long)]
    pub to: PathBuf,
    /// Replace `--to` if it exists.
    #[arg(long)]
    pub force: bool,
    /// Data directory of the server to back up (as for `serve`).
    #[arg(long, env = "GOONLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL (as for `serve`); default: SQLite in the data dir.
    #[arg(long, env = "GOONLINE_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl BackupArgs {
    /// The database URL to back up, exactly as `serve` would use it.
    pub fn database_url(&self) -> String {
        crate::config::database_url(&self.data_dir, self.database_url.as_deref())
    }
}

/// Flags for `goonline restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Backup file made by `goonline backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// Data directory to restore into (as for `serve`).
    #[arg(long, env = "GOONLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL to restore into (`sqlite://...`); default: SQLite in the
    /// data dir.
    #[arg(long, env = "GOONLINE_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl RestoreArgs {
    /// The database URL to restore into, exactly as `serve` would use it.
    pub fn database_url(&self) -> String {
        crate::config::database_url(&self.data_dir, self.database_url.as_deref())
    }
}
