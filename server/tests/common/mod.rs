//! Test support for the server: a real server on an ephemeral port (in-process,
//! or the real binary as a child process), and real WebSocket clients for each
//! dialect, each keeping a Yrs doc in step with what it receives.

#![allow(dead_code)]

pub mod accounts;
pub mod auth;
pub mod http;
pub mod oidc_provider;
mod peer;

// Not every test file uses the clients.
#[allow(unused_imports)]
pub use peer::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use goonline_engine::testing::TestDb;
use goonline_server::config::ServeArgs;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(10);

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<bool>>>,
    pub db: TestDb,
}

impl TestServer {
    pub async fn start(db: TestDb, tweak: impl FnOnce(&mut ServeArgs)) -> TestServer {
        let store = std::sync::Arc::new(db.store().await);
        Self::start_with_store(db, store, tweak).await
    }

    /// A server on a store the test built (to inject faults).
    pub async fn start_with_store(
        db: TestDb,
        store: std::sync::Arc<dyn goonline_engine::store::Store>,
        tweak: impl FnOnce(&mut ServeArgs),
    ) -> TestServer {
        let mut args = ServeArgs::defaults();
        args.listen = "127.0.0.1:0".parse().expect("addr");
        args.database_url = Some(db.url.clone());
        // The dialect and durability tests use plain document names; the access
        // tests turn this off (or use the biz/ and user/ namespaces, which are
        // always checked).
        args.security.allow_anonymous_docs = true;
        args.data_dir = std::env::temp_dir().join(format!(
            "goonline-test-data-{}",
            uuid::Uuid::new_v4().simple()
        ));
        tweak(&mut args);
        let sql = db.store().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, serve) = goonline_server::start_with_store(&args, sql, store, async move {
            let _ = stopped.await;
        })
        .await
        .expect("server starts");
        let task = tokio::spawn(serve);
        TestServer {
            addr,
            stop: Some(stop),
            task: Some(task),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Graceful stop; returns whether everything was flushed.
    pub async fn stop(mut self) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.expect("server task").expect("server io"),
            None => true,
        }
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A minimal HTTP/1.1 GET (no client crate needed for three endpoints).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The real `goonline` binary as a child process.
pub struct BinaryServer {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
}

impl BinaryServer {
    pub async fn spawn(data_dir: &PathBuf, database_url: &str, extra: &[&str]) -> BinaryServer {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_goonline"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--database-url", database_url, "--allow-anonymous-docs"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn goonline");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("server prints its address in time")
            .expect("read stdout")
            .expect("a line");
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        BinaryServer { child, addr }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn rss_kb(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }
}
