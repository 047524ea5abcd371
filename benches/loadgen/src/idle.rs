//! Idle footprint: how much server memory a synced connection that does nothing
//! costs. Opens `n` sockets over `n / 10` documents, syncs each, waits for the
//! server to settle, and divides the growth of its RSS by `n`.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::connect::{JoinError, join};
use crate::procstat::Proc;
use crate::wire::Dialect;

/// What an idle run measured.
#[derive(Debug)]
pub struct IdleOutcome {
    /// Connections held at the measurement.
    pub connections: u64,
    /// Server RSS before the first connection, kB.
    pub rss_before_kb: u64,
    /// Server RSS with all connections synced and settled, kB.
    pub rss_after_kb: u64,
    /// Connections that closed before the measurement.
    pub dropped: u64,
}

/// Holds `n` synced idle connections and measures the server at `pid`.
pub async fn run(
    dialect: Dialect,
    url: &str,
    prefix: &str,
    n: usize,
    settle: Duration,
    pid: u32,
) -> Result<IdleOutcome, JoinError> {
    let server = Proc(Some(pid));
    let unreadable = || JoinError::Refused {
        doc: "-".into(),
        reason: format!("cannot read /proc/{pid}/status"),
    };
    let rss_before_kb = server.rss_kb().ok_or_else(unreadable)?;
    let docs = n.div_ceil(10).max(1);
    let gate = std::sync::Arc::new(Semaphore::new(128));
    let mut joins = JoinSet::new();
    for i in 0..n {
        let (gate, url, doc) = (
            gate.clone(),
            url.to_string(),
            format!("{prefix}-{}", i % docs),
        );
        joins.spawn(async move {
            let _permit = gate.acquire_owned().await;
            join(dialect, &url, &doc).await.map(|(ws, _)| ws)
        });
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut holders = JoinSet::new();
    while let Some(joined) = joins.join_next().await {
        let mut ws = match joined {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(JoinError::Refused {
                    doc: "-".into(),
                    reason: e.to_string(),
                });
            }
        };
        let mut stop = stop_rx.clone();
        // Reading answers WebSocket pings, so servers that ping idle sockets keep them.
        holders.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => return true,
                    msg = ws.next() => if !matches!(msg, Some(Ok(_))) { return false },
                }
            }
        });
    }
    tokio::time::sleep(settle).await;
    let rss_after_kb = server.rss_kb().ok_or_else(unreadable)?;
    let _ = stop_tx.send(true);
    let mut dropped = 0;
    while let Some(alive) = holders.join_next().await {
        if !matches!(alive, Ok(true)) {
            dropped += 1;
        }
    }
    Ok(IdleOutcome {
        connections: n as u64,
        rss_before_kb,
        rss_after_kb,
        dropped,
    })
}
