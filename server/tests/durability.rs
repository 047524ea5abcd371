//! Durability with the real binary: acknowledged updates survive `kill -9` and a
//! graceful stop (SIGTERM: drain, 1001, exit 0), on SQLite and on Postgres.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::{BinaryServer, Peer, WAIT};
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::codes::close;

fn data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("goonline-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("data dir");
    dir
}

async fn content_after_restart(addr: SocketAddr, doc: &str) -> String {
    let mut p = Peer::native_at(addr).await;
    p.open(doc).await;
    assert!(
        p.until(WAIT, |p| p.synced.get(doc) == Some(&true)).await,
        "synced after restart"
    );
    p.text(doc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_updates_survive_kill_9() {
    each_backend(|db: TestDb| async move {
        let dir = data_dir();
        // Small snapshot bound so the kill also lands around compactions.
        let extra = ["--snapshot-every-updates", "50"];
        let server = BinaryServer::spawn(&dir, &db.url, &extra).await;
        let mut p = Peer::native_at(server.addr).await;
        p.open("ledger").await;
        assert!(
            p.until(WAIT, |p| p.synced.get("ledger") == Some(&true))
                .await
        );
        const N: usize = 300;
        let mut ids = Vec::new();
        for i in 0..N {
            ids.push(p.append_text("ledger", &format!("{i};")).await);
        }
        assert!(
            p.until(WAIT, |p| ids.iter().all(|id| p.acks.contains(id)))
                .await,
            "[{}] all acked",
            db.label
        );
        let expected = p.text("ledger");
        // Unacknowledged writes in flight at the kill are allowed to be lost; send some.
        for i in 0..20 {
            p.append_text("ledger", &format!("late{i};")).await;
        }
        let mut server = server;
        server.signal("-KILL");
        let status = server.child.wait().await.expect("wait");
        assert!(!status.success(), "killed");

        let server = BinaryServer::spawn(&dir, &db.url, &extra).await;
        let text = content_after_restart(server.addr, "ledger").await;
        assert!(
            text.starts_with(&expected),
            "[{}] every acked update is there",
            db.label
        );
        for i in 0..N {
            assert!(
                text.contains(&format!("{i};")),
                "[{}] update {i} survived",
                db.label
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_flushes_acks_closes_with_1001_and_exits_0() {
    each_backend(|db: TestDb| async move {
        let dir = data_dir();
        let mut server = BinaryServer::spawn(&dir, &db.url, &[]).await;
        let mut p = Peer::native_at(server.addr).await;
        p.open("orders").await;
        assert!(
            p.until(WAIT, |p| p.synced.get("orders") == Some(&true))
                .await
        );
        for i in 0..200 {
            p.append_text("orders", &format!("o{i};")).await;
        }
        // Stop at once, with updates still in flight.
        server.signal("-TERM");
        let code = p.closed_with(Duration::from_secs(30)).await;
        assert_eq!(
            code,
            Some(close::GOING_AWAY),
            "[{}] going-away close {:?}",
            db.label,
            p.closed
        );
        let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
            .await
            .expect("exits in time")
            .expect("wait");
        assert_eq!(status.code(), Some(0), "[{}] exit 0", db.label);
        let acked: Vec<u64> = p.acks.clone();

        let server = BinaryServer::spawn(&dir, &db.url, &[]).await;
        let text = content_after_restart(server.addr, "orders").await;
        // Every acknowledged update is stored (ids are 1-based in send order).
        for id in acked {
            let marker = format!("o{};", id - 1);
            assert!(
                text.contains(&marker),
                "[{}] acked {marker} stored",
                db.label
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
