//! Test support: a throwaway database per test on each backend, and a store
//! wrapper that counts loads and fails on demand.
//!
//! Every database test runs its body on SQLite (always) and on Postgres (whenever
//! `TEST_DATABASE_URL` or `DATABASE_URL` is set; CI always sets it). A Postgres
//! test gets its own database with a random name, dropped afterwards even if the
//! test panics, so tests never see each other's data.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Connection;

use crate::access::AllowAll;
use crate::bus::LocalBus;
use crate::metrics::Metrics;
use crate::sql_store::SqlStore;
use crate::store::{LogStats, LogWrite, Store, StoreError, StoreFuture, StoredDoc};
use crate::{Engine, EngineConfig, EngineParts};

/// A database that exists for one test.
pub struct TestDb {
    /// `"sqlite"` or `"postgres"`, for failure messages.
    pub label: &'static str,
    /// The URL to connect to.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// The Postgres admin URL tests use, if configured.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

impl TestDb {
    /// A fresh SQLite file in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let dir =
            std::env::temp_dir().join(format!("goonline-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("goonline.db").display());
        TestDb {
            label: "sqlite",
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh Postgres database with a random name, or `None` if no Postgres is
    /// configured.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url()?;
        let name = format!("goonline_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("Postgres at TEST_DATABASE_URL is unreachable: {e}"));
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = replace_db_name(&admin_url, &name);
        Some(TestDb {
            label: "postgres",
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// Connects a [`SqlStore`] to this database (running migrations).
    pub async fn store(&self) -> SqlStore {
        SqlStore::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("[{}] connect store: {e}", self.label))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop may run inside a runtime; do the async cleanup on a thread of
                // its own.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await {
                                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                                let _ = sqlx::Executor::execute(&mut c, sql.as_str()).await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// Replaces the database name in a Postgres URL.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs `body` once per configured backend, each with a fresh database.
pub async fn each_backend<F, Fut>(body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    body(TestDb::sqlite()).await;
    match TestDb::postgres().await {
        Some(db) => body(db).await,
        None => eprintln!("TEST_DATABASE_URL not set: Postgres half of this test skipped"),
    }
}

/// Wraps a store to count loads, slow them down, and make them (or commits) fail
/// on demand: the faults a real database shows, injected at will.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    /// Loads started.
    pub loads: AtomicU64,
    /// While set, every load fails.
    pub fail_loads: AtomicBool,
    /// While set, every commit fails.
    pub fail_commits: AtomicBool,
    /// While set, every ping (readiness check) fails.
    pub fail_pings: AtomicBool,
    /// Delay added to each load, in milliseconds.
    pub load_delay_ms: AtomicU64,
}

impl FaultyStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            loads: AtomicU64::new(0),
            fail_loads: AtomicBool::new(false),
            fail_commits: AtomicBool::new(false),
            fail_pings: AtomicBool::new(false),
            load_delay_ms: AtomicU64::new(0),
        })
    }
}

impl Store for FaultyStore {
    fn load<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, StoredDoc> {
        Box::pin(async move {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let delay = self.load_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if self.fail_loads.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("injected load failure".into()));
            }
            self.inner.load(doc).await
        })
    }

    fn commit<'a>(&'a self, writes: &'a [LogWrite]) -> StoreFuture<'a, Vec<u64>> {
        Box::pin(async move {
            if self.fail_commits.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("injected commit failure".into()));
            }
            self.inner.commit(writes).await
        })
    }

    fn load_since<'a>(&'a self, doc: &'a str, after: u64) -> StoreFuture<'a, StoredDoc> {
        Box::pin(async move {
            if self.fail_loads.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("injected load failure".into()));
            }
            self.inner.load_since(doc, after).await
        })
    }

    fn heads<'a>(&'a self, docs: &'a [Arc<str>]) -> StoreFuture<'a, Vec<(String, u64)>> {
        self.inner.heads(docs)
    }

    fn log_stats<'a>(&'a self, doc: &'a str) -> StoreFuture<'a, LogStats> {
        self.inner.log_stats(doc)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if self.fail_pings.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("injected ping failure".into()));
            }
            self.inner.ping().await
        })
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

/// Starts an engine on `store` with the in-process bus, allow-all access and fresh
/// metrics. Must be called inside a tokio runtime.
pub fn start_engine(store: Arc<dyn Store>, config: EngineConfig) -> Engine {
    Engine::start(EngineParts {
        config,
        store,
        bus: LocalBus::new(),
        access: Arc::new(AllowAll),
        metrics: Arc::new(Metrics::default()),
    })
}

/// The whole document a [`crate::store::StoredDoc`] holds, as one Yjs v1
/// update (its snapshot and tail applied in order).
pub fn rebuild(stored: &crate::store::StoredDoc) -> Vec<u8> {
    use yrs::updates::decoder::Decode;
    use yrs::{ReadTxn, StateVector, Transact, Update};
    let doc = yrs::Doc::new();
    {
        let mut txn = doc.transact_mut();
        for (_, data) in stored.snapshot.iter().chain(stored.tail.iter()) {
            if let Ok(u) = Update::decode_v1(data) {
                let _ = txn.apply_update(u);
            }
        }
    }
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}
