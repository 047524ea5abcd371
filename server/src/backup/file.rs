//! SQLite files as `backup` and `restore` handle them: where a URL's database
//! lives, opening one without creating or migrating it, checking that a file is
//! a sound GoOnline database, and making renames durable.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use goonline_engine::sql_store::Dialect;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::BackupError;

/// How long a statement waits for the server's writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The file of the SQLite database `url` names: `Ok(None)` for Postgres or an
/// in-memory database.
pub fn sqlite_path(url: &str) -> Result<Option<PathBuf>, BackupError> {
    match Dialect::of_url(url) {
        Ok(Dialect::Sqlite) => {}
        Ok(Dialect::Postgres) => return Ok(None),
        Err(_) => return Err(BackupError::UnsupportedUrl(url.to_string())),
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|_| BackupError::UnsupportedUrl(url.to_string()))?;
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path == Path::new(":memory:") {
        return Ok(None);
    }
    Ok(Some(path.to_path_buf()))
}

/// `path` + `suffix` (`goonline.db` + `-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens the existing database at `path` (never creates one, never migrates).
pub async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection, BackupError> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .read_only(read_only)
        .busy_timeout(BUSY_TIMEOUT)
        .connect()
        .await
        .map_err(|e| sql_error(path, "cannot open", e))
}

/// What a GoOnline database holds, for the operator.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The newest migration applied.
    pub schema_version: i64,
    /// Documents with stored content.
    pub documents: i64,
    /// Topic events (chat, comments, ...).
    pub topic_events: i64,
}

/// Checks that `conn` (the database at `path`) is intact and is ours, and
/// summarises it.
pub async fn check(conn: &mut SqliteConnection, path: &Path) -> Result<Summary, BackupError> {
    let not_ours = |reason: String| BackupError::NotGoOnline {
        path: path.to_path_buf(),
        reason,
    };
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| not_a_database(path, e))?;
    if problems.first().map(String::as_str) != Some("ok") {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        return Err(not_ours(format!(
            "the integrity check failed: {}",
            shown.join("; ")
        )));
    }
    check_is_ours(conn, path).await?;
    let schema_version = count(
        conn,
        path,
        "SELECT COALESCE(MAX(version), 0) FROM goonline_migrations",
    )
    .await?;
    let documents = count(
        conn,
        path,
        "SELECT COUNT(*) FROM (SELECT doc FROM doc_snapshots UNION SELECT doc FROM doc_updates)",
    )
    .await?;
    let topic_events = count(conn, path, "SELECT COUNT(*) FROM topic_events").await?;
    Ok(Summary {
        schema_version,
        documents,
        topic_events,
    })
}

async fn count(conn: &mut SqliteConnection, path: &Path, sql: &str) -> Result<i64, BackupError> {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(conn)
        .await
        .map_err(|e| sql_error(path, "cannot read", e))
}

/// Checks that `conn` (the database at `path`) was made by goonline.
pub async fn check_is_ours(conn: &mut SqliteConnection, path: &Path) -> Result<(), BackupError> {
    let ours: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goonline_migrations'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| not_a_database(path, e))?;
    if ours == 0 {
        return Err(BackupError::NotGoOnline {
            path: path.to_path_buf(),
            reason: "it has no goonline_migrations table (not made by goonline)".into(),
        });
    }
    Ok(())
}

/// A read failure, told apart when the file is not SQLite at all.
fn not_a_database(path: &Path, e: sqlx::Error) -> BackupError {
    match e.as_database_error().and_then(|d| d.code()) {
        // SQLITE_NOTADB
        Some(code) if code == "26" => BackupError::NotGoOnline {
            path: path.to_path_buf(),
            reason: "it is not an SQLite database".into(),
        },
        _ => sql_error(path, "cannot read", e),
    }
}

/// An SQL failure on the database at `path`.
pub fn sql_error(path: &Path, doing: &str, source: sqlx::Error) -> BackupError {
    BackupError::Sql {
        what: format!("{doing} {}", path.display()),
        source,
    }
}

/// An I/O failure, with what was being done.
pub fn io_error(what: String) -> impl FnOnce(std::io::Error) -> BackupError {
    move |source| BackupError::Io { what, source }
}

/// Flushes `path`'s content to disk.
pub fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_error(format!("cannot flush {}", path.display())))
}

/// Makes renames and links in `path`'s directory durable.
pub fn sync_dir_of(path: &Path) -> Result<(), BackupError> {
    let dir = parent_dir(path);
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!(
            "cannot flush directory {}",
            dir.display()
        )))
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A byte count for people: `512 bytes`, `440.0 KiB`, `1.2 GiB`.
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}
