//! [`SqlStore`]: the [`Store`] on SQLite (the embedded default) or Postgres.
//!
//! Both backends run the same portable SQL through sqlx's `Any` driver: `$n`
//! placeholders, BIGINT, TEXT, BLOB/BYTEA, epoch-millisecond times. Only the schema
//! files differ (`migrations/sqlite`, `migrations/postgres`); they are embedded in
//! the binary and applied at start-up.

use std::str::FromStr;
use std::sync::{Arc, Once};

mod doc_log;
use std::time::Duration;

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
    Migration {
        version: 9,
        name: "0009_doc_heads",
        sqlite: include_str!("../../migrations/sqlite/0009_doc_heads.sql"),
        postgres: include_str!("../../migrations/postgres/0009_doc_heads.sql"),
    },
    Migration {
        version: 10,
        name: "0010_partitions",
        sqlite: include_str!("../../migrations/sqlite/0010_partitions.sql"),
        postgres: include_str!("../../migrations/postgres/0010_partitions.sql"),
    },
];

/// The Postgres advisory lock nodes take turns on to migrate ("goon").
const MIGRATION_LOCK: i64 = 0x676F_6F6E;

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
                    // Per connection, and taking no lock: the busy timeout first,
                    // so nothing after it fails at once on a lock. NORMAL
                    // synchronous keeps every commit across a process crash
                    // (kill -9); only an OS crash could lose the last commits.
                    conn.execute("PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL;")
                        .await?;
                    Ok(())
                })
            }),
            Dialect::Postgres => pool_options,
        };
        let pool = pool_options.connect_with(options).await?;
        if dialect == Dialect::Sqlite {
            // WAL (readers never block the group-commit writer) is a property
            // of the file: set once here, not on every new connection, where
            // it needs a lock and could fail at once ("database is busy")
            // while another connection writes.
            sqlx::raw_sql("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
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

    /// Applies the migrations not yet applied. On Postgres, nodes starting
    /// at once take turns under an advisory lock, so each migration runs once
    /// and none sees another's half-made schema.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        let result = self.migrate_on(&mut conn).await;
        if self.dialect == Dialect::Postgres {
            // Also released when the connection closes, should this fail.
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await;
        }
        result
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS goonline_migrations (\
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        // SQLite: `BEGIN IMMEDIATE` takes the write lock up front (waiting
        // out the busy timeout), so two processes opening a new file at once
        // cannot both read "not applied" and then both write.
        let begin = match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        for m in MIGRATIONS {
            sqlx::raw_sql(begin).execute(&mut *conn).await?;
            let result = self.apply_migration(conn, m).await;
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            let ended = sqlx::raw_sql(end).execute(&mut *conn).await;
            result?;
            ended?;
        }
        Ok(())
    }

    /// Runs `m` in the caller's transaction unless it is already applied.
    async fn apply_migration(
        &self,
        conn: &mut sqlx::AnyConnection,
        m: &Migration,
    ) -> Result<(), StoreError> {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM goonline_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
        if applied.is_some() {
            return Ok(());
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
        sqlx::raw_sql(sql).execute(&mut *conn).await.map_err(fail)?;
        sqlx::query(
            "INSERT INTO goonline_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *conn)
        .await
        .map_err(fail)?;
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
        Box::pin(self.load_after(doc, None))
    }

    fn commit<'a>(&'a self, writes: &'a [LogWrite]) -> StoreFuture<'a, Vec<u64>> {
        Box::pin(self.commit_writes(writes))
    }

    fn load_since<'a>(&'a self, doc: &'a str, after: u64) -> StoreFuture<'a, StoredDoc> {
        Box::pin(self.load_after(doc, Some(after)))
    }

    fn heads<'a>(&'a self, docs: &'a [Arc<str>]) -> StoreFuture<'a, Vec<(String, u64)>> {
        Box::pin(self.doc_heads(docs))
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

/// `$1, $2, …, $n`: the placeholders of an `IN (…)` list of `n` values.
pub fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starts a transaction that writes. On SQLite it takes the write lock up
/// front (`BEGIN IMMEDIATE`, waiting out the busy timeout): a deferred
/// transaction that reads and then writes fails at once with
/// `SQLITE_BUSY_SNAPSHOT` when another connection committed in between, which
/// no busy timeout retries (a sign-in or a restore answered "database busy"
/// under load). Postgres: a plain `BEGIN`.
pub async fn begin_write(
    pool: &AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

fn to_seq(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative sequence number {v}")))
}

pub use crate::clock::now_ms;
