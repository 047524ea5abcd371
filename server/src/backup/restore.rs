//! `goonline restore --from FILE`: puts a backup in place of the SQLite
//! database, with the server on it stopped. The database it replaces is kept
//! beside it as `<name>.before-restore-<UTC time>`, its WAL with it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use goonline_engine::sql_store::Dialect;
use sqlx::Connection;

use super::RestoreArgs;
use super::file::{self, io_error, sql_error};
use super::{BackupError, StoreLock};

/// Restores the backup `args` name and prints what it did.
pub async fn restore(args: RestoreArgs) -> Result<(), BackupError> {
    let url = args.database_url();
    if Dialect::of_url(&url).ok() == Some(Dialect::Postgres) {
        return Err(BackupError::Postgres {
            command: "goonline restore",
            tool: "pg_restore or psql",
        });
    }
    let target = file::sqlite_path(&url)?.ok_or(BackupError::InMemory)?;
    if !args.from.is_file() {
        return Err(BackupError::Missing(args.from.clone()));
    }
    if args.database_url.is_none() {
        std::fs::create_dir_all(&args.data_dir).map_err(io_error(format!(
            "cannot create data dir {}",
            args.data_dir.display()
        )))?;
    }
    if same_file(&args.from, &target) {
        return Err(BackupError::SameFile(target));
    }
    // Checked before anything is touched: a bad file leaves the target as it was.
    let mut source = file::open(&args.from, true).await?;
    let summary = file::check(&mut source, &args.from).await?;
    let _lock = StoreLock::acquire(&target)?;

    let incoming = file::with_suffix(&target, &format!(".restoring-{}", std::process::id()));
    let _ = std::fs::remove_file(&incoming);
    let copied = copy_into(&mut source, &args.from, &incoming).await;
    let _ = source.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&incoming);
        return Err(e);
    }
    let kept = match set_aside(&target) {
        Ok(kept) => kept,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
    };
    std::fs::rename(&incoming, &target).map_err(io_error(format!(
        "cannot rename {} to {}",
        incoming.display(),
        target.display()
    )))?;
    file::sync_dir_of(&target)?;
    println!(
        "restored {} into {} ({} documents, {} topic events, schema version {})",
        args.from.display(),
        target.display(),
        summary.documents,
        summary.topic_events,
        summary.schema_version
    );
    if let Some(kept) = kept {
        println!("the database it replaced is kept as {}", kept.display());
    }
    Ok(())
}

/// Whether `a` and `b` are one file (`b` may not exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Copies the checked backup into a new file at `incoming`. `VACUUM INTO`
/// rather than a file copy: it also takes what a `-wal` beside the backup holds.
async fn copy_into(
    source: &mut sqlx::SqliteConnection,
    from: &Path,
    incoming: &Path,
) -> Result<(), BackupError> {
    let target = incoming.to_str().ok_or_else(|| BackupError::Io {
        what: format!("cannot write to {}", incoming.display()),
        source: std::io::Error::other("the path is not UTF-8"),
    })?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut *source)
        .await
        .map_err(|e| sql_error(from, "cannot copy", e))?;
    file::sync_file(incoming)
}

/// Moves the database at `target` aside with its `-wal` and `-journal`
/// (committed data not yet in the main file, or what undoes a half-done
/// transaction); removes its `-shm`, which SQLite rebuilds. Returns where it
/// went, if there was one.
fn set_aside(target: &Path) -> Result<Option<PathBuf>, BackupError> {
    const COMPANIONS: [&str; 2] = ["-wal", "-journal"];
    let kept = if target.exists() {
        let kept = free_name(target);
        rename(target, &kept)?;
        for suffix in COMPANIONS {
            let companion = file::with_suffix(target, suffix);
            if companion.exists() {
                rename(&companion, &file::with_suffix(&kept, suffix))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    // Left without their database, SQLite would apply these to the restored one.
    for suffix in ["-wal", "-journal", "-shm"] {
        let stale = file::with_suffix(target, suffix);
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(format!("cannot remove {}", stale.display()))(e)),
        }
    }
    Ok(kept)
}

fn rename(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::rename(from, to).map_err(io_error(format!(
        "cannot rename {} to {}",
        from.display(),
        to.display()
    )))
}

/// `<target>.before-restore-<UTC time>`, with a counter if two restores share
/// a second.
fn free_name(target: &Path) -> PathBuf {
    let stamp = utc_stamp(SystemTime::now());
    let mut name = file::with_suffix(target, &format!(".before-restore-{stamp}"));
    let mut n = 2;
    while name.exists() {
        name = file::with_suffix(target, &format!(".before-restore-{stamp}-{n}"));
        n += 1;
    }
    name
}

/// `20260102T030405Z` for `at`.
fn utc_stamp(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn stamps_are_utc_calendar_times() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(utc_stamp(at(0)), "19700101T000000Z");
        // 2000-02-29 (a leap day in a century year divisible by 400).
        assert_eq!(utc_stamp(at(951_782_400 + 3661)), "20000229T010101Z");
        assert_eq!(utc_stamp(at(1_767_225_599)), "20251231T235959Z");
    }
}
