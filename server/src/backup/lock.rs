//! [`StoreLock`]: an exclusive advisory lock beside an SQLite database
//! (`goonline.db.lock`), held by `serve` for as long as it runs and taken by
//! `restore`, so a restore never swaps the file under a running server (and two
//! servers never share one file).
//!
//! The kernel releases the lock when its holder exits, however it exits
//! (`kill -9` included): a stale lock file is harmless and never needs cleaning.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::ServerError;

use super::file::sqlite_path;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "a goonline server is running on {} ({}): stop it first",
        db.display(),
        holder(lock)
    )]
    Held {
        /// The database.
        db: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be created or locked.
    #[error("cannot lock {}: {source}", lock.display())]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Who holds `lock`, from the process id its holder wrote into it.
fn holder(lock: &Path) -> String {
    let mut pid = String::new();
    let _ = File::open(lock).and_then(|mut f| f.read_to_string(&mut pid));
    match pid.trim() {
        "" => format!("{} is locked", lock.display()),
        pid => format!("process {pid} holds {}", lock.display()),
    }
}

/// The held lock; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    // Held open for the flock; closing it releases the lock.
    _file: File,
}

impl StoreLock {
    /// The lock file for the SQLite database at `db`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock of the database at `db`, without waiting.
    pub fn acquire(db: &Path) -> Result<StoreLock, LockError> {
        let lock = Self::path_for(db);
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    db: db.to_path_buf(),
                    lock,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // For the message another process shows when it finds the lock taken.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(StoreLock { _file: file })
    }

    /// The lock `serve` holds on the database at `url`: none for Postgres or
    /// an in-memory SQLite database.
    pub fn for_serve(url: &str) -> Result<Option<StoreLock>, ServerError> {
        let Ok(Some(db)) = sqlite_path(url) else {
            return Ok(None);
        };
        Self::acquire(&db)
            .map(Some)
            .map_err(|e| ServerError::Startup(e.to_string()))
    }
}
