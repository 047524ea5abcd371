//! `goonline backup` and `goonline restore` with the real binary on SQLite.
//!
//! A backup taken while clients keep editing documents and sending chat
//! messages holds everything acknowledged before it began, topics without
//! holes, and restores to a store that serves exactly what the backup file
//! holds. A restore refuses while a server runs on the target, keeps the
//! database it replaces (with its WAL), and refuses files that are not
//! GoOnline databases. Backups of Postgres point at `pg_dump`.

mod common;

#[path = "backup_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::accounts::{Shop, login};
use common::{BinaryServer, Peer, WAIT};
use serde_json::json;
use support::{Acked, StoreContents, goonline, on_data_dir, sqlite_url, state_of, temp_dir};

/// Flags for every server here: fast chat, snapshots often (so a backup lands
/// around compactions), no metrics feed (it would add events of its own).
const SERVE: &[&str] = &[
    "--chat-sends-per-10s",
    "1000000",
    "--snapshot-every-updates",
    "40",
    "--metrics-feed-secs",
    "0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_to_exactly_what_it_held() {
    let source_dir = temp_dir("source");
    let source = BinaryServer::spawn(&source_dir, &sqlite_url(&source_dir), SERVE).await;
    let addr = source.addr;
    let shop = Shop::open(addr).await;
    let channel = shop
        .owner_call(
            addr,
            "chat.channel.create",
            json!({ "business_id": shop.business, "name": "orders" }),
        )
        .await;
    let chat_id = channel["id"].as_str().expect("chat id").to_string();
    let topic = channel["topic"].as_str().expect("topic").to_string();

    // Writers: one per ledger document, two on a shared one, two in the chat.
    let acked = Acked::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (doc, who) in [
        ("ledger-a", "a"),
        ("ledger-b", "b"),
        ("shared", "s1"),
        ("shared", "s2"),
    ] {
        writers.push(tokio::spawn(support::edit_doc(
            addr,
            doc.to_string(),
            who.to_string(),
            acked.clone(),
            stop.clone(),
        )));
    }
    for (token, who) in [
        (&shop.owner.access, "owner"),
        (&shop.editor.access, "agent"),
    ] {
        writers.push(tokio::spawn(support::send_chat(
            addr,
            token.clone(),
            chat_id.clone(),
            who.to_string(),
            acked.clone(),
            stop.clone(),
        )));
    }
    acked.wait_for(300, 100).await;

    // What was acknowledged before the backup began must all be in it.
    let before = acked.snapshot();
    let file = source_dir.join("backup.db");
    let out = on_data_dir("backup", "--to", &file, &source_dir).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("backup written") && stdout.contains("backup.db"),
        "{stdout}"
    );
    let during = acked.snapshot();
    eprintln!(
        "backup began after {} updates and {} messages were acknowledged; {} and {} more \
         were while it ran",
        before.docs_len(),
        before.messages.len(),
        during.docs_len() - before.docs_len(),
        during.messages.len() - before.messages.len()
    );

    // Writes go on; a restore onto the running server's database is refused.
    acked
        .wait_for(during.docs_len() + 50, during.messages.len() + 20)
        .await;
    let out = on_data_dir("restore", "--from", &file, &source_dir).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "restore under a running server must fail"
    );
    assert!(stderr.contains("a goonline server is running"), "{stderr}");
    assert!(
        support::kept_copies(&source_dir).is_empty(),
        "nothing was moved"
    );
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let mut source = source;
    source.signal("-TERM");
    let _ = tokio::time::timeout(Duration::from_secs(30), source.child.wait()).await;

    // The backup as a file: everything acknowledged before it, no holes.
    let held = StoreContents::read_copy_of(&file).await;
    for (doc, markers) in &before.docs {
        let text = &held
            .docs
            .get(doc)
            .unwrap_or_else(|| panic!("{doc} in the backup"))
            .1;
        for m in markers {
            assert!(
                text.contains(m.as_str()),
                "acknowledged {m} of {doc} in the backup"
            );
        }
    }
    let events = held.events.get(&topic).expect("chat topic in the backup");
    for (seq, body) in &before.messages {
        let found = events.iter().find(|(s, _)| s == seq).map(|(_, d)| d);
        assert_eq!(
            found.map(|d| d["message"]["body"].clone()),
            Some(json!(body)),
            "acknowledged message {seq} in the backup"
        );
    }
    held.assert_topics_contiguous();

    // Restored into a fresh data dir, a server serves exactly the backup.
    let restored_dir = temp_dir("restored");
    let out = on_data_dir("restore", "--from", &file, &restored_dir).await;
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = BinaryServer::spawn(&restored_dir, &sqlite_url(&restored_dir), SERVE).await;
    for (doc, state) in &held.docs {
        let mut p = Peer::native_at(restored.addr).await;
        p.open(doc).await;
        assert!(
            p.until(WAIT, |p| p.synced.get(doc) == Some(&true)).await,
            "{doc} synced"
        );
        assert_eq!(
            &state_of(&p.docs[doc]),
            state,
            "{doc} as the backup holds it"
        );
    }
    // Tokens were signed with the old data dir's secret: sign in again.
    let token = login(restored.addr, &shop.owner).await;
    let mut reader = Peer::native_signed_in(restored.addr, Some(&token)).await;
    assert!(reader.sub(&topic, Some(0)).await, "{:?}", reader.errors);
    assert!(reader.until_events(&topic, events.len()).await);
    assert_eq!(
        &reader.topic_events(&topic),
        events,
        "the chat as the backup holds it"
    );
    let mut restored = restored;
    restored.signal("-TERM");
    let _ = tokio::time::timeout(Duration::from_secs(30), restored.child.wait()).await;

    // And the restored store itself holds what the backup file holds.
    let now = StoreContents::read(&restored_dir.join("goonline.db")).await;
    assert_eq!(now.docs, held.docs);
    assert_eq!(now.events, held.events);
    let _ = std::fs::remove_dir_all(&source_dir);
    let _ = std::fs::remove_dir_all(&restored_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_keeps_what_it_replaces_and_refuses_what_is_not_a_backup() {
    let dir = temp_dir("replace");
    let server = BinaryServer::spawn(&dir, &sqlite_url(&dir), SERVE).await;
    let mut p = Peer::native_at(server.addr).await;
    p.open("stock").await;
    assert!(
        p.until(WAIT, |p| p.synced.get("stock") == Some(&true))
            .await
    );
    let id = p.append_text("stock", "in-backup;").await;
    assert!(p.until(WAIT, |p| p.acks.contains(&id)).await);
    let file = dir.join("stock-backup.db");
    let backup = |force: bool| {
        let mut c = goonline(&["backup", "--to"]);
        c.arg(&file).arg("--data-dir").arg(&dir);
        if force {
            c.arg("--force");
        }
        c.output()
    };
    assert!(backup(false).await.expect("backup").status.success());
    let out = backup(false).await.expect("backup again");
    assert!(
        !out.status.success(),
        "an existing backup is not overwritten"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // Only acknowledged after the backup: in the replaced database only.
    let id = p.append_text("stock", "after-backup;").await;
    assert!(p.until(WAIT, |p| p.acks.contains(&id)).await);
    // A crash leaves the latest commits in the WAL, beside the database.
    let mut server = server;
    server.signal("-KILL");
    let _ = server.child.wait().await;
    assert!(dir.join("goonline.db-wal").exists(), "a WAL is left behind");

    let out = on_data_dir("restore", "--from", &file, &dir).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("kept as"), "{stdout}");
    assert!(!dir.join("goonline.db-wal").exists() && !dir.join("goonline.db-shm").exists());
    let kept = support::kept_copies(&dir);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let replaced = StoreContents::read(&kept[0]).await;
    assert!(
        replaced.docs["stock"].1.contains("after-backup;"),
        "kept with its WAL"
    );
    let server = BinaryServer::spawn(&dir, &sqlite_url(&dir), SERVE).await;
    let mut p = Peer::native_at(server.addr).await;
    p.open("stock").await;
    assert!(
        p.until(WAIT, |p| p.synced.get("stock") == Some(&true))
            .await
    );
    assert_eq!(
        p.text("stock"),
        "in-backup;",
        "the backup's content is served"
    );
    drop(server);

    // Files that are not GoOnline backups: refused, the target left alone.
    let empty = temp_dir("target");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "this is not a database\n".repeat(100)).expect("write");
    let foreign = dir.join("foreign.db");
    support::foreign_sqlite(&foreign).await;
    for (from, reason) in [
        (&text, "it is not an SQLite database"),
        (&foreign, "no goonline_migrations table"),
    ] {
        let out = on_data_dir("restore", "--from", from, &empty).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{from:?} refused");
        assert!(
            stderr.contains("is not a GoOnline database") && stderr.contains(reason),
            "{stderr}"
        );
        assert!(!empty.join("goonline.db").exists(), "target untouched");
    }

    // Postgres has its own tools.
    let out = goonline(&["backup", "--to"])
        .arg(empty.join("pg.db"))
        .args(["--database-url", "postgres://postgres@127.0.0.1:5432/test"])
        .output()
        .await
        .expect("backup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("pg_dump") && stderr.contains("docs/deploy.md"),
        "{stderr}"
    );
    // No database to back up.
    let out = goonline(&["backup", "--to"])
        .arg(empty.join("none.db"))
        .arg("--data-dir")
        .arg(empty.join("nothing-here"))
        .output()
        .await
        .expect("backup");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}
