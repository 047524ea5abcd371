//! Cold load: how long GoOnline takes to open a document that is not in memory,
//! and how much memory that takes, for a document stored as a long update log and
//! for the same document compacted into one snapshot.
//!
//! The run drives the real binary: a server with compaction switched off logs `n`
//! acknowledged updates; a fresh server opens the document for a reader (timed,
//! peak RSS read); one more update makes that server write a snapshot; a third
//! fresh server opens the compacted document (timed again).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::connect::join;
use crate::durable::{acked_frames, send_acked};
use crate::procstat::Proc;
use crate::wire::Dialect;
use crate::yupdate::for_each_range;

/// One cold open.
#[derive(Debug)]
pub struct ColdOpen {
    /// `log_N` or `snapshot`.
    pub variant: String,
    /// Connect → document state received, ms.
    pub load_ms: f64,
    /// Server RSS before the open, kB.
    pub rss_before_kb: u64,
    /// Server peak RSS after it, kB.
    pub peak_rss_kb: u64,
}

/// A `goonline serve` child process.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    async fn start(bin: &str, database_url: &str, extra: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
                // Benchmark documents have plain names and no tokens.
                "--allow-anonymous-docs",
            ])
            .args(extra)
            .env("GOONLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {bin}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(a) = line.strip_prefix("listening on http://") {
                    return Some(a.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or("the server did not print its address within 30 s")?;
        Ok(Server { child, addr })
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// SIGTERM (the server drains and flushes), then wait.
    async fn stop(mut self) -> Result<(), String> {
        let pid = self.pid();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("server exited with {status}")),
            _ => {
                let _ = self.child.kill().await;
                Err("server did not stop within 30 s".into())
            }
        }
    }
}

/// Writes `n` updates to `doc` through a server with compaction off, then measures
/// the log open and the snapshot open.
pub async fn run(
    bin: &str,
    database_url: &str,
    doc: &str,
    n: usize,
) -> Result<Vec<ColdOpen>, String> {
    let never = u64::MAX / 4;
    let (never_updates, never_bytes) = (never.to_string(), never.to_string());
    let server = Server::start(
        bin,
        database_url,
        &[
            "--snapshot-every-updates",
            &never_updates,
            "--snapshot-every-bytes",
            &never_bytes,
        ],
    )
    .await?;
    let native = format!("ws://{}/v1/ws", server.addr);
    let far = Instant::now() + Duration::from_secs(3600);
    let (acked, _, err) = send_acked(&native, doc, acked_frames(doc, n), 512, far).await;
    if let Some(e) = err {
        return Err(format!("populating `{doc}`: {e}"));
    }
    if acked as usize != n {
        return Err(format!(
            "populating `{doc}`: {acked} of {n} updates acknowledged"
        ));
    }
    server.stop().await?;

    let mut opens = Vec::new();
    let server = Server::start(bin, database_url, &[]).await?;
    opens.push(open(&server, doc, format!("log_{n}"), n).await?);
    // One more update: the log behind the last snapshot is over the bound, so the
    // server writes a snapshot with it; the ack means both are durable.
    let native = format!("ws://{}/v1/ws", server.addr);
    let (acked, _, err) = send_acked(&native, doc, acked_frames(doc, 1), 1, far).await;
    if acked != 1 {
        return Err(format!("compacting `{doc}`: {}", err.unwrap_or_default()));
    }
    server.stop().await?;

    let server = Server::start(bin, database_url, &[]).await?;
    opens.push(open(&server, doc, "snapshot".into(), n + 1).await?);
    server.stop().await?;
    Ok(opens)
}

/// Times one open of `doc` on a server that has not loaded it.
async fn open(
    server: &Server,
    doc: &str,
    variant: String,
    edits: usize,
) -> Result<ColdOpen, String> {
    let proc_ = Proc(Some(server.pid()));
    // Let the fresh process finish starting before taking its baseline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before_kb = proc_.rss_kb().unwrap_or(0);
    let base = format!("ws://{}/y", server.addr);
    let t = Instant::now();
    let (_ws, state) = join(Dialect::Yws, &base, doc)
        .await
        .map_err(|e| e.to_string())?;
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    let peak_rss_kb = proc_.peak_rss_kb().unwrap_or(0);
    let mut clocks = 0u64;
    for_each_range(&state, |r| clocks += r.len).map_err(|e| format!("unreadable state: {e}"))?;
    if clocks != edits as u64 {
        return Err(format!(
            "{variant}: the loaded document has {clocks} edits, expected {edits}"
        ));
    }
    Ok(ColdOpen {
        variant,
        load_ms,
        rss_before_kb,
        peak_rss_kb,
    })
}
