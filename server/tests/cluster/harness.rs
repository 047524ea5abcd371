//! A cluster of real `goonline serve` processes for one test: a fresh
//! Postgres database they share, a Redis channel prefix nobody else uses
//! (optionally reached through a [`TcpProxy`] the test can cut), and N nodes
//! started with short bus timings (`--bus-down-grace-secs 1`,
//! `--bus-audit-ms 300`) and one shared token secret, each waited on until
//! `/readyz` answers 200 and its bus is connected.
//!
//! Every node is killed when the cluster is dropped, then its data directory
//! and the database go.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use goonline_engine::tcp_proxy::TcpProxy;
use goonline_engine::testing::TestDb;

use crate::common::{BinaryServer, http_get};

/// How long a node may take to become ready, and anything cluster-wide
/// (a catch-up after an outage, a drain) may take to happen.
pub const SLOW: Duration = Duration::from_secs(30);

/// The Redis the tests run against.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// What to start.
pub struct Options {
    nodes: usize,
    through_proxy: bool,
    flags: Vec<String>,
    node_flags: Vec<(usize, Vec<String>)>,
}

impl Options {
    /// `n` nodes talking to Redis directly.
    pub fn nodes(n: usize) -> Options {
        Options {
            nodes: n,
            through_proxy: false,
            flags: Vec::new(),
            node_flags: Vec::new(),
        }
    }

    /// The nodes reach Redis through a proxy the test can cut.
    pub fn through_proxy(mut self) -> Options {
        self.through_proxy = true;
        self
    }

    /// Extra flags for every node.
    pub fn flags(mut self, flags: &[&str]) -> Options {
        self.flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    /// Extra flags for node `i` only.
    pub fn node_flags(mut self, i: usize, flags: &[&str]) -> Options {
        self.node_flags
            .push((i, flags.iter().map(|f| f.to_string()).collect()));
        self
    }
}

/// One node: the process and its data directory.
struct Node {
    server: BinaryServer,
    dir: PathBuf,
}

/// Nodes sharing one database and one Redis prefix.
pub struct Cluster {
    // Declared first so they are dropped (killed) before the database goes.
    nodes: Vec<Node>,
    proxy: Option<TcpProxy>,
    /// Kept for as long as the cluster lives; dropping it drops the database.
    _db: TestDb,
}

impl Cluster {
    /// Starts the cluster, or returns `None` when no Postgres is configured
    /// (TEST_DATABASE_URL): several processes need one server database.
    /// Fails the test when Redis does not answer.
    pub async fn start(options: Options) -> Option<Cluster> {
        let Some(db) = TestDb::postgres().await else {
            eprintln!("TEST_DATABASE_URL not set: the multi-node tests need Postgres; skipped");
            return None;
        };
        require_redis().await;
        // Migrated once here, so the nodes start on a ready schema.
        drop(db.store().await);
        let proxy = match options.through_proxy {
            true => Some(
                TcpProxy::start(redis_host_port())
                    .await
                    .expect("proxy to Redis starts"),
            ),
            false => None,
        };
        let redis = match &proxy {
            Some(p) => with_host_port(&redis_url(), &p.addr().to_string()),
            None => redis_url(),
        };
        let prefix = format!("gotest-cluster-{}", uuid::Uuid::new_v4().simple());
        // Tokens made on one node must be accepted by every other.
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let spawns = (0..options.nodes).map(|i| {
            let mut args: Vec<String> = [
                "--redis-url",
                &redis,
                "--redis-prefix",
                &prefix,
                "--bus-down-grace-secs",
                "1",
                "--bus-audit-ms",
                "300",
                "--jwt-secret",
                &secret,
                // No periodic platform-metrics events: less noise on 2 cores.
                "--metrics-feed-secs",
                "0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(options.flags.iter().cloned());
            for (n, flags) in &options.node_flags {
                if *n == i {
                    args.extend(flags.iter().cloned());
                }
            }
            let url = db.url.clone();
            async move {
                let dir = std::env::temp_dir().join(format!(
                    "goonline-cluster-{}",
                    uuid::Uuid::new_v4().simple()
                ));
                std::fs::create_dir_all(&dir).expect("data dir");
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let server = BinaryServer::spawn(&dir, &url, &args).await;
                Node { server, dir }
            }
        });
        let nodes = futures_util::future::join_all(spawns).await;
        let cluster = Cluster {
            nodes,
            proxy,
            _db: db,
        };
        for i in 0..cluster.nodes.len() {
            cluster.wait_ready(i).await;
        }
        Some(cluster)
    }

    /// Node `i`'s address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].server.addr
    }

    /// The proxy between the nodes and Redis.
    pub fn proxy(&self) -> &TcpProxy {
        self.proxy.as_ref().expect("started through_proxy")
    }

    /// Waits until node `i` answers `/readyz` with 200 and its bus is
    /// connected (a node is ready before its first Redis connection, within
    /// the grace period).
    pub async fn wait_ready(&self, i: usize) {
        let deadline = tokio::time::Instant::now() + SLOW;
        loop {
            if self.readyz(i).await == 200 && self.metric(i, "goonline_bus_connected").await == 1.0
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {i} did not become ready with its bus connected"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The status `/readyz` answers on node `i`.
    pub async fn readyz(&self, i: usize) -> u16 {
        http_get(self.addr(i), "/readyz").await.0
    }

    /// The value of an unlabelled metric on node `i` (0 when absent).
    pub async fn metric(&self, i: usize, name: &str) -> f64 {
        let (status, body) = http_get(self.addr(i), "/metrics").await;
        assert_eq!(status, 200, "node {i} /metrics");
        body.lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum()
    }

    /// `kill -9` node `i`; returns once it is gone.
    pub async fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i].server;
        node.signal("-KILL");
        let status = tokio::time::timeout(SLOW, node.child.wait())
            .await
            .expect("a killed node is gone at once")
            .expect("wait");
        assert!(!status.success(), "node {i} was killed");
    }

    /// Sends SIGTERM to node `i` (it drains, then exits).
    pub fn terminate(&self, i: usize) {
        self.nodes[i].server.signal("-TERM");
    }

    /// Waits for node `i` to exit; returns how it did.
    pub async fn exited(&mut self, i: usize) -> ExitStatus {
        tokio::time::timeout(SLOW, self.nodes[i].server.child.wait())
            .await
            .unwrap_or_else(|_| panic!("node {i} did not exit in time"))
            .expect("wait")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.server.child.start_kill();
            let _ = std::fs::remove_dir_all(&node.dir);
        }
    }
}

/// Fails the test unless Redis answers PING.
async fn require_redis() {
    let url = redis_url();
    let client = redis::Client::open(url.as_str())
        .unwrap_or_else(|e| panic!("TEST_REDIS_URL `{url}` is not a Redis URL: {e}"));
    let ping = async {
        let mut con = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut con).await
    };
    match tokio::time::timeout(Duration::from_secs(10), ping).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!("Redis at {url} is unreachable: {e}"),
        Err(_) => panic!("Redis at {url} did not answer"),
    }
}

/// `host:port` of the test Redis, for the proxy to forward to.
fn redis_host_port() -> String {
    let url = redis_url();
    let (_, authority, _) = split_url(&url);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:6379")
    }
}

/// `url` with its `host:port` replaced (credentials and database kept).
fn with_host_port(url: &str, host_port: &str) -> String {
    let (scheme, authority, path) = split_url(url);
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{host_port}{path}")
}

/// (scheme, authority, path-and-rest) of a `redis://` URL.
fn split_url(url: &str) -> (&str, &str, &str) {
    let (scheme, rest) = url.split_once("://").expect("TEST_REDIS_URL has a scheme");
    let cut = rest.find('/').unwrap_or(rest.len());
    (scheme, &rest[..cut], &rest[cut..])
}
