//! `goonline backup --to FILE`: a consistent copy of the running server's
//! SQLite database, written whole or not at all.

use std::path::Path;

use goonline_engine::sql_store::Dialect;
use sqlx::Connection;

use super::BackupArgs;
use super::BackupError;
use super::file::{self, Summary, io_error, sql_error};

/// Writes the backup `args` describe and prints what it wrote.
pub async fn backup(args: BackupArgs) -> Result<(), BackupError> {
    let url = args.database_url();
    if Dialect::of_url(&url).ok() == Some(Dialect::Postgres) {
        return Err(BackupError::Postgres {
            command: "goonline backup",
            tool: "pg_dump",
        });
    }
    let source = file::sqlite_path(&url)?.ok_or(BackupError::InMemory)?;
    if !source.is_file() {
        return Err(BackupError::Missing(source));
    }
    let to = std::path::absolute(&args.to)
        .map_err(io_error(format!("bad path {}", args.to.display())))?;
    if !args.force && to.exists() {
        return Err(BackupError::Exists(to));
    }
    let partial = file::with_suffix(&to, &format!(".partial-{}", std::process::id()));
    let written = write_copy(&source, &partial).await;
    let summary = match written {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let placed = place(&partial, &to, args.force);
    let _ = std::fs::remove_file(&partial);
    placed?;
    let size = std::fs::metadata(&to)
        .map_err(io_error(format!("cannot read {}", to.display())))?
        .len();
    println!(
        "backup written: {} ({}, {} documents, {} topic events, schema version {})",
        to.display(),
        file::size_text(size),
        summary.documents,
        summary.topic_events,
        summary.schema_version
    );
    Ok(())
}

/// Copies `source` into a new file at `partial` and checks the copy.
async fn write_copy(source: &Path, partial: &Path) -> Result<Summary, BackupError> {
    // A partial file of an earlier run that died (VACUUM INTO refuses to write
    // over a file).
    let _ = std::fs::remove_file(partial);
    let target = partial.to_str().ok_or_else(|| BackupError::Io {
        what: format!("cannot write to {}", partial.display()),
        source: std::io::Error::other("the path is not UTF-8"),
    })?;
    // Read-write, never created, never migrated: opening a WAL database may
    // need to recover its WAL, which takes write access.
    let mut conn = file::open(source, false).await?;
    file::check_is_ours(&mut conn, source).await?;
    // One read transaction: the copy is the database as of one instant, while
    // the server goes on committing.
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(|e| sql_error(source, "cannot copy", e))?;
    let _ = conn.close().await;

    let mut copy = file::open(partial, false).await?;
    // One self-contained file, readable without its -wal and -shm.
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut copy)
        .await
        .map_err(|e| sql_error(partial, "cannot finish", e))?;
    let summary = file::check(&mut copy, partial).await?;
    copy.close()
        .await
        .map_err(|e| sql_error(partial, "cannot close", e))?;
    file::sync_file(partial)?;
    Ok(summary)
}

/// Gives `partial` its final name `to`: replacing `to` with `force`, and
/// otherwise only if no `to` appeared meanwhile.
fn place(partial: &Path, to: &Path, force: bool) -> Result<(), BackupError> {
    let rename = || {
        std::fs::rename(partial, to).map_err(io_error(format!(
            "cannot rename {} to {}",
            partial.display(),
            to.display()
        )))
    };
    if force {
        rename()?;
    } else {
        // A hard link fails if `to` exists, where a rename would replace it.
        match std::fs::hard_link(partial, to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackupError::Exists(to.to_path_buf()));
            }
            // A file system without hard links: `to` was checked just before.
            Err(_) => rename()?,
        }
    }
    file::sync_dir_of(to)
}
