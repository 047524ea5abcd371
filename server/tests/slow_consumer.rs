//! A client that stops reading is closed, and the server's memory stays bounded
//! while a writer keeps pushing large updates at it; a reading client on the same
//! document gets everything.

mod common;

use std::time::Duration;

use common::{BinaryServer, Peer, WAIT, http_get};
use goonline_engine::testing::TestDb;
use yrs::{Text, Transact};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_memory_stays_bounded() {
    let db = TestDb::sqlite();
    let dir = std::env::temp_dir().join(format!("goonline-slow-{}", uuid::Uuid::new_v4().simple()));
    let server = BinaryServer::spawn(
        &dir,
        &db.url,
        &["--session-queue", "64", "--write-timeout-secs", "3"],
    )
    .await;

    let mut writer = Peer::native_at(server.addr).await;
    writer.open("firehose").await;
    let mut reader = Peer::native_at(server.addr).await;
    reader.open("firehose").await;
    let mut slow = Peer::native_at(server.addr).await;
    slow.open("firehose").await;
    for p in [&mut writer, &mut reader, &mut slow] {
        assert!(
            p.until(WAIT, |p| p.synced.get("firehose") == Some(&true))
                .await
        );
    }
    let rss_before = server.rss_kb();

    // 400 updates of 64 KiB each (insert then delete, so the document itself stays
    // small): ~25 MiB that the slow client never reads.
    let chunk = "x".repeat(64 * 1024);
    let doc = writer.docs["firehose"].clone();
    let text = doc.get_or_insert_text("t");
    for i in 0..400u64 {
        let update = {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, &chunk);
            text.remove_range(&mut txn, 0, chunk.len() as u32);
            txn.encode_update_v1()
        };
        writer.send_update("firehose", update).await;
        // The writer and the healthy reader keep reading.
        writer.until(Duration::from_millis(1), |_| false).await;
        reader.until(Duration::from_millis(1), |_| false).await;
        if i % 100 == 99 {
            assert!(
                reader
                    .until(WAIT, |p| p.state("firehose") == writer.state("firehose"))
                    .await,
                "reader keeps up"
            );
        }
    }
    assert!(
        writer.until(WAIT, |p| p.acks.len() == 400).await,
        "every update acked"
    );
    assert!(
        reader
            .until(WAIT, |p| p.state("firehose") == writer.state("firehose"))
            .await,
        "reader has everything"
    );

    // The server let the slow client go...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let closes = loop {
        let (_, metrics) = http_get(server.addr, "/metrics").await;
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("goonline_slow_consumer_closes_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if n >= 1 || tokio::time::Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(closes >= 1, "slow consumer closed");
    // ... and its socket ends once it reads again (close frame or a cut connection).
    assert!(
        slow.until(Duration::from_secs(20), |p| p.closed.is_some())
            .await,
        "slow client sees its connection end"
    );

    // ...without holding on to what it did not read.
    let rss_after = server.rss_kb();
    let grown_mb = rss_after.saturating_sub(rss_before) / 1024;
    assert!(
        grown_mb < 20,
        "RSS grew by {grown_mb} MiB ({rss_before} KiB -> {rss_after} KiB)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
