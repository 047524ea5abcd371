//! [`SqlStore`]: the [`Store`] on SQLite (the embedded default) or Postgres.
//!
//! Both backends run the same portable SQL through sqlx's `Any` driver: `$n`
//! placeholders, BIGINT, TEXT, BLOB/BYTEA, epoch-millisecond times. Only the schema
//! files differ (`migrations/sqlite`, `migrations/postgres`); they are embedded in
//! the binary and applied at start-up.

use std::fmt::Write;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use bytes::Bytes;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

use crate::store::{LogStats, LogWrite, Store, StoreError, StoreFuture, StoredDoc};

/// Which SQL dialect a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite file (WAL mode).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Dialect {
    /// The dialect a database URL names, if we support it.
    pub fn of_url(url: &str) -> Result<Dialect, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Dialect::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }
}

/// One embedded migration.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Add new files to both folders and a line here.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_doc_log",
        sqlite: include_str!("../../migrations/sqlite/0001_doc_log.sql"),
        postgres: include_str!("../../migrations/postgres/0001_doc_log.sql"),
    },
    Migration {
        version: 2,
        name: "0002_identity",
        sqlite: include_str!("../../migrations/sqlite/0002_identity.sql"),
        postgres: include_str!("../../migrations/postgres/0002_identity.sql"),
    },
    Migration {
        version: 3,
        name: "0003_invitations",
        sqlite: include_str!("../../migrations/sqlite/0003_invitations.sql"),
        postgres: include_str!("../../migrations/postgres/0003_invitations.sql"),
    },
    Migration {
        version: 4,
        name: "0004_expiry_indexes",
        sqlite: include_str!("../../migrations/sqlite/0004_expiry_indexes.sql"),
        postgres: include_str!("../../migrations/postgres/0004_expiry_indexes.sql"),
    },
    Migration {
        version: 5,
        name: "0005_topics_chat_comments",
        sqlite: include_str!("../../migrations/sqlite/0005_topics_chat_comments.sql"),
        postgres: include_str!("../../migrations/postgres/0005_topics_chat_comments.sql"),
    },
    Migration {
        version: 6,
        name: "0006_workspaces",
        sqlite: include_str!("../../migrations/sqlite/0006_workspaces.sql"),
        postgres: include_str!("../../migrations/postgres/0006_workspaces.sql"),
    },
    Migration {
        version: 7,
        name: "0007_doc_versions",
        sqlite: include_str!("../../migrations/sqlite/0007_doc_versions.sql"),
        postgres: include_str!("../../migrations/postgres/0007_doc_versions.sql"),
    },
    Migration {
        version: 8,
        name: "0008_events_webhooks",
        sqlite: include_str!("../../migrations/sqlite/0008_events_webhooks.sql"),
        postgres: include_str!("../../migrations/postgres/0008_events_webhooks.sql"),
    },
];

/// Rows per multi-row INSERT: 4 parameters each stays far below both backends'
/// parameter limits.
const APPEND_CHUNK: usize = 256;

/// Bytes per multi-row INSERT: large updates go in smaller statements, so a batch
/// of big updates never builds a message the database refuses.
const APPEND_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// A [`Store`] backed by SQLite or Postgres.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and runs the
    /// migrations.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let dialect = Dialect::of_url(url)?;
        let options = AnyConnectOptions::from_str(url)?;
        let pool_options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(match dialect {
                // SQLite serializes writers anyway; a few readers are plenty.
                Dialect::Sqlite => 4,
                Dialect::Postgres => 16,
            });
        let pool_options = match dialect {
            Dialect::Sqlite => pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL: readers never block the group-commit writer. NORMAL
                    // synchronous keeps every commit across a process crash (kill -9);
                    // only an OS crash could lose the last commits.
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                         PRAGMA busy_timeout=10000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Dialect::Postgres => pool_options,
        };
        let pool = pool_options.connect_with(options).await?;
        let store = SqlStore { pool, dialect };
        store.migrate().await?;
        Ok(store)
    }

    /// The dialect of this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The connection pool, for code that owns tables beside the doc log.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS goonline_migrations (\
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        for m in MIGRATIONS {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM goonline_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&self.pool)
                    .await?;
            if applied.is_some() {
                continue;
            }
            let sql = match self.dialect {
                Dialect::Sqlite => m.sqlite,
                Dialect::Postgres => m.postgres,
            };
            let fail = |source| StoreError::Migration {
                version: m.version,
                name: m.name,
                source,
            };
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
            sqlx::query(
                "INSERT INTO goonline_migrations (version, name, applied_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        }
        Ok(())
    }

    async fn load_doc(&self, doc: &str) -> Result<StoredDoc, StoreError> {
        let snapshot = sqlx::query("SELECT seq, data FROM doc_snapshots WHERE doc = $1")
            .bind(doc)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| -> Result<(u64, Bytes), StoreError> {
                Ok((
                    to_seq(row.try_get(0)?)?,
                    Bytes::from(row.try_get::<Vec<u8>, _>(1)?),
                ))
            })
            .transpose()?;
        let after = snapshot.as_ref().map(|(s, _)| *s).unwrap_or(0);
        let rows = sqlx::query(
            "SELECT seq, data FROM doc_updates WHERE doc = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(doc)
        .bind(after as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut tail = Vec::with_capacity(rows.len());
        for row in rows {
            tail.push((
                to_seq(row.try_get(0)?)?,
                Bytes::from(row.try_get::<Vec<u8>, _>(1)?),
            ));
        }
        Ok(StoredDoc { snapshot, tail })
    }

    async fn commit_writes(&self, writes: &[LogWrite]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut i = 0;
        while i < writes.len() {
            match &writes[i] {
                LogWrite::Append { .. } => {
                    // Gather the run of appends that starts here into multi-row INSERTs.
                    let start = i;
                    let mut bytes = 0usize;
                    while i < writes.len() && i - start < APPEND_CHUNK && bytes < APPEND_CHUNK_BYTES
                    {
                        match &writes[i] {
                            LogWrite::Append { data, .. } => bytes += data.len(),
                            LogWrite::Snapshot { .. } => break,
                        }
                        i += 1;
                    }
                    let run = &writes[start..i];
                    let mut sql = String::with_capacity(80 + run.len() * 24);
                    sql.push_str("INSERT INTO doc_updates (doc, seq, data, created_at) VALUES ");
                    for n in 0..run.len() {
                        if n > 0 {
                            sql.push_str(", ");
                        }
                        match self.dialect {
                            // SQLite looks up every named parameter by scanning
                            // the whole list, so `$n` costs O(n²) over a large
                            // batch; plain `?` binds in order for free.
                            Dialect::Sqlite => sql.push_str("(?, ?, ?, ?)"),
                            Dialect::Postgres => {
                                let p = n * 4;
                                let _ =
                                    write!(sql, "(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4);
                            }
                        }
                    }
                    // A retried commit whose first attempt did land must not fail.
                    sql.push_str(" ON CONFLICT (doc, seq) DO NOTHING");
                    let mut query = sqlx::query(&sql);
                    for w in run {
                        if let LogWrite::Append { doc, seq, data } = w {
                            query = query
                                .bind(doc.as_ref())
                                .bind(*seq as i64)
                                .bind(data.as_ref())
                                .bind(now);
                        }
                    }
                    query.execute(&mut *tx).await?;
                }
                LogWrite::Snapshot { doc, seq, data } => {
                    sqlx::query(
                        "INSERT INTO doc_snapshots (doc, seq, data, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (doc) DO UPDATE SET seq = excluded.seq, data = excluded.data, \
                         updated_at = excluded.updated_at WHERE doc_snapshots.seq < excluded.seq",
                    )
                    .bind(doc.as_ref())
                    .bind(*seq as i64)
                    .bind(data.as_ref())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM doc_updates WHERE doc = $1 AND seq <= $2")
                        .bind(doc.as_ref())
                        .bind(*seq as i64)
                        .execute(&mut *tx)
                        .await?;
                    i += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn stats(&self, doc: &str) -> Result<LogStats, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM doc_updates WHERE doc = $1",
        )
        .bind(doc)
        .fetch_one(&self.pool)
        .await?;
        let updates: i64 = row.try_get(0)?;
        let update_bytes: i64 = row.try_get(1)?;
        let snapshot_seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM doc_snapshots WHERE doc = $1")
                .bind(doc)
                .fetch_optional(&self.pool)
                .await?;
        Ok(LogStats {
            updates: updates as u64,
            update_bytes: update_bytes as u64,
            snapshot_seq: snapshot_seq.unwrap_or(0) as u64,
        })
    }
}

impl Store for SqlStore {
    fn load<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, StoredDoc> {
        Box::pin(self.load_doc(doc))
    }

    fn commit<'a>(&'a self, writes: &'a [LogWrite]) -> StoreFuture<'a, ()> {
        Box::pin(self.commit_writes(writes))
    }

    fn log_stats<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, LogStats> {
        Box::pin(self.stats(doc))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

fn to_seq(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative sequence number {v}")))
}

pub use crate::clock::now_ms;
