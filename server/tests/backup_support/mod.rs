//! Support for the backup tests: writers that record what was acknowledged,
//! running the binary's admin commands, and reading a store's documents and
//! topic events straight from its SQLite file.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goonline_engine::sql_store::SqlStore;
use goonline_engine::store::Store;
use goonline_engine::testing::rebuild;
use serde_json::{Value, json};
use yrs::{Doc, GetString, Map, ReadTxn, Transact};

use crate::common::{Peer, WAIT, apply};

/// A document's content as compared here: its state vector, the text `t`
/// and the map `m` (both decoded and sorted: encodings are not canonical).
pub type DocState = (String, String, String);

/// The state of `doc`.
pub fn state_of(doc: &Doc) -> DocState {
    let text = doc.get_or_insert_text("t");
    let map = doc.get_or_insert_map("m");
    let txn = doc.transact();
    let sv: BTreeMap<String, u32> = txn
        .state_vector()
        .iter()
        .map(|(c, k)| (c.to_string(), *k))
        .collect();
    let mut entries: Vec<(String, String)> = map
        .iter(&txn)
        .map(|(k, v)| (k.to_string(), v.to_string(&txn)))
        .collect();
    entries.sort();
    (
        format!("{sv:?}"),
        text.get_string(&txn),
        format!("{entries:?}"),
    )
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "goonline-backup-{what}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The URL `serve` uses for the SQLite database of `data_dir`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("goonline.db").display()
    )
}

/// The `goonline` binary with `args`, its output captured.
pub fn goonline(args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_goonline"));
    c.args(args.iter().map(OsStr::new)).kill_on_drop(true);
    c
}

/// Runs `goonline <verb> <flag> FILE --data-dir DIR` (`backup --to`,
/// `restore --from`) to the end.
pub async fn on_data_dir(verb: &str, flag: &str, file: &Path, dir: &Path) -> std::process::Output {
    goonline(&[verb, flag])
        .arg(file)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .await
        .expect("run goonline")
}

/// The databases a restore set aside in `dir` (`goonline.db.before-restore-*`).
pub fn kept_copies(dir: &Path) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(OsStr::to_str).unwrap_or("");
            name.starts_with("goonline.db.before-restore-") && !name.ends_with("-wal")
        })
        .collect();
    kept.sort();
    kept
}

/// An SQLite database that goonline did not make.
pub async fn foreign_sqlite(path: &Path) {
    let store_url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&store_url).await.expect("sqlite");
    sqlx::query("CREATE TABLE recipes (name TEXT)")
        .execute(&pool)
        .await
        .expect("create");
    pool.close().await;
}

/// What the writers saw acknowledged, in order.
#[derive(Debug, Default, Clone)]
pub struct Acks {
    /// Text markers per document.
    pub docs: BTreeMap<String, Vec<String>>,
    /// `(seq, body)` of each chat message.
    pub messages: Vec<(u64, String)>,
}

impl Acks {
    /// Document markers acknowledged, over all documents.
    pub fn docs_len(&self) -> usize {
        self.docs.values().map(Vec::len).sum()
    }
}

/// [`Acks`] shared by the writers.
#[derive(Clone, Default)]
pub struct Acked(Arc<Mutex<Acks>>);

impl Acked {
    pub fn new() -> Acked {
        Acked::default()
    }

    fn record(&self, f: impl FnOnce(&mut Acks)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// What was acknowledged so far.
    pub fn snapshot(&self) -> Acks {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until `docs` document updates and `messages` messages were
    /// acknowledged in all.
    pub async fn wait_for(&self, docs: usize, messages: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let now = self.snapshot();
            if now.docs_len() >= docs && now.messages.len() >= messages {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "writers stalled at {} updates, {} messages",
                now.docs_len(),
                now.messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Appends markers to `doc` until `stop`, one at a time, recording each once
/// acknowledged.
pub async fn edit_doc(
    addr: SocketAddr,
    doc: String,
    who: String,
    acked: Acked,
    stop: Arc<AtomicBool>,
) {
    let mut p = Peer::native_at(addr).await;
    p.open(&doc).await;
    assert!(
        p.until(WAIT, |p| p.synced.get(&doc) == Some(&true)).await,
        "{doc} synced"
    );
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let marker = format!("<{who}:{i}>");
        let id = if i % 4 == 3 {
            p.set_key(&doc, &who, &marker).await
        } else {
            p.append_text(&doc, &marker).await
        };
        assert!(
            p.until(WAIT, |p| p.acks.contains(&id)).await,
            "{marker} acknowledged"
        );
        if i % 4 != 3 {
            acked.record(|a| a.docs.entry(doc.clone()).or_default().push(marker));
        }
        i += 1;
    }
}

/// Sends chat messages until `stop`, recording each once the reply came.
pub async fn send_chat(
    addr: SocketAddr,
    token: String,
    chat_id: String,
    who: String,
    acked: Acked,
    stop: Arc<AtomicBool>,
) {
    let mut p = Peer::native_signed_in(addr, Some(&token)).await;
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = format!("{who} says {i}");
        let m = p
            .call(
                "chat.send",
                json!({ "chat_id": chat_id, "client_id": format!("{who}-{i}"), "body": body }),
                None,
            )
            .await
            .expect("chat.send");
        let seq = m["seq"].as_u64().unwrap_or_else(|| panic!("seq in {m}"));
        acked.record(|a| a.messages.push((seq, body)));
        i += 1;
    }
}

/// A store's documents and topic events, read from its file.
#[derive(Debug)]
pub struct StoreContents {
    pub docs: BTreeMap<String, DocState>,
    /// `(seq, data)` per topic, in sequence order.
    pub events: BTreeMap<String, Vec<(u64, Value)>>,
    /// `(first_seq, last_seq)` per topic, from the `topics` table.
    pub heads: BTreeMap<String, (u64, u64)>,
}

impl StoreContents {
    /// Reads a copy of the database file at `path`, leaving the file as it is
    /// (opening a store switches it to WAL mode).
    pub async fn read_copy_of(path: &Path) -> StoreContents {
        let dir = temp_dir("read");
        let copy = dir.join("copy.db");
        std::fs::copy(path, &copy).expect("copy");
        let contents = Self::read(&copy).await;
        let _ = std::fs::remove_dir_all(&dir);
        contents
    }

    /// Reads the database at `path` with [`SqlStore`].
    pub async fn read(path: &Path) -> StoreContents {
        let url = format!("sqlite://{}?mode=rw", path.display());
        let store = SqlStore::connect(&url).await.expect("open the store");
        let names: Vec<String> =
            sqlx::query_scalar("SELECT doc FROM doc_snapshots UNION SELECT doc FROM doc_updates")
                .fetch_all(store.pool())
                .await
                .expect("doc names");
        let mut docs = BTreeMap::new();
        for name in names {
            let stored = store.load(&name).await.expect("load");
            let doc = Doc::new();
            apply(&doc, &rebuild(&stored));
            docs.insert(name, state_of(&doc));
        }
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT topic, seq, data FROM topic_events ORDER BY topic, seq")
                .fetch_all(store.pool())
                .await
                .expect("events");
        let mut events: BTreeMap<String, Vec<(u64, Value)>> = BTreeMap::new();
        for (topic, seq, data) in rows {
            let data = serde_json::from_str(&data).expect("event JSON");
            events.entry(topic).or_default().push((seq as u64, data));
        }
        let heads: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT name, first_seq, last_seq FROM topics")
                .fetch_all(store.pool())
                .await
                .expect("topics");
        let heads = heads
            .into_iter()
            .map(|(t, first, last)| (t, (first as u64, last as u64)))
            .collect();
        store.close().await;
        StoreContents {
            docs,
            events,
            heads,
        }
    }

    /// Every topic's events run from its first kept to its last sequence
    /// number with no hole, as its `topics` row says.
    pub fn assert_topics_contiguous(&self) {
        for (topic, (first, last)) in &self.heads {
            let seqs: Vec<u64> = self
                .events
                .get(topic)
                .map(|e| e.iter().map(|(s, _)| *s).collect())
                .unwrap_or_default();
            let expected: Vec<u64> = (*first..=*last).collect();
            assert_eq!(
                seqs, expected,
                "{topic}: events {first}..={last} with no hole"
            );
        }
        for topic in self.events.keys() {
            assert!(self.heads.contains_key(topic), "{topic} has a topics row");
        }
    }
}
