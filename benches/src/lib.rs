//! Shared helpers for GoOnline benchmarks.
//!
//! - [`Typist`]: a client-side Yrs document that produces real single-character
//!   text updates (Yjs v1), made before the timed section so a bench times only
//!   the server's work.
//! - [`runtime`] and [`start_engine`]: the tokio runtime and an [`Engine`] on a
//!   given store with the in-process bus, allow-all access and fresh metrics.
//! - [`drain`]: empties a session's outbound queue without waiting.
//!
//! The helpers take no dependency on the engine's `testing` feature; the benches
//! bring it in themselves for throwaway databases.

use std::sync::Arc;

use bytes::Bytes;
use goonline_engine::SessionEvents;
use goonline_engine::store::{LogStats, LogWrite, Store, StoreFuture, StoredDoc};
use yrs::{Doc, GetString, ReadTxn, Text, TextRef, Transact};

/// Name of the shared text every generated update edits.
pub const TEXT_NAME: &str = "content";

/// A simulated client typing into one text: mostly at its cursor, sometimes
/// jumping to another place (deterministic pseudo-random), so the document is not
/// one perfectly merged run of characters.
pub struct Typist {
    doc: Doc,
    text: TextRef,
    cursor: u32,
    rng: u64,
}

impl Typist {
    /// A typist with Yrs client id `client_id` (Yjs clients pick a random 32-bit
    /// one, which takes 5 bytes in every update); `seed` drives its cursor jumps.
    pub fn new(client_id: u64, seed: u64) -> Typist {
        let doc = Doc::with_client_id(client_id);
        let text = doc.get_or_insert_text(TEXT_NAME);
        Typist {
            doc,
            text,
            cursor: 0,
            rng: seed | 1,
        }
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64: plenty for choosing cursor positions.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Types one character and returns the update that carries it (about 20-25
    /// bytes with a 32-bit client id: one item with its origins, client id and
    /// clock).
    pub fn next_update(&mut self) -> Bytes {
        let r = self.next_rand();
        let mut txn = self.doc.transact_mut();
        let len = self.text.len(&txn);
        // One keystroke in 40 moves the cursor somewhere else in the text.
        if r.is_multiple_of(40) && len > 0 {
            self.cursor = ((r >> 8) % (u64::from(len) + 1)) as u32;
        }
        self.cursor = self.cursor.min(len);
        let ch = (b'a' + (r >> 32) as u8 % 26) as char;
        let mut buf = [0u8; 4];
        self.text
            .insert(&mut txn, self.cursor, ch.encode_utf8(&mut buf));
        self.cursor += 1;
        Bytes::from(txn.encode_update_v1())
    }

    /// `n` successive updates.
    pub fn updates(&mut self, n: usize) -> Vec<Bytes> {
        (0..n).map(|_| self.next_update()).collect()
    }

    /// The typist's whole document as one Yjs v1 update (what a snapshot holds).
    pub fn state(&self) -> Bytes {
        let txn = self.doc.transact();
        Bytes::from(txn.encode_state_as_update_v1(&yrs::StateVector::default()))
    }

    /// The text typed so far.
    pub fn content(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }
}

/// A multi-threaded tokio runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("build tokio runtime")
}

pub use goonline_engine::testing::start_engine;

/// Takes every message queued for a session without waiting; returns how many.
pub fn drain(events: &mut SessionEvents) -> usize {
    let mut n = 0;
    while events.rx.try_recv().is_ok() {
        n += 1;
    }
    n
}

/// `n` append writes for `doc` with the given update bytes (cycled if fewer
/// than `n`); the store numbers them.
pub fn appends(doc: &Arc<str>, updates: &[Bytes], n: usize) -> Vec<LogWrite> {
    (0..n)
        .map(|i| LogWrite::Append {
            doc: doc.clone(),
            data: updates[i % updates.len()].clone(),
        })
        .collect()
}

/// A store that forgets everything: isolates the fan-out from the commit work
/// that shares the machine's two cores.
pub struct NullStore;

impl Store for NullStore {
    fn load<'a>(&'a self, _doc: &'a str) -> StoreFuture<'a, StoredDoc> {
        Box::pin(async { Ok(StoredDoc::default()) })
    }
    fn commit<'a>(&'a self, writes: &'a [LogWrite]) -> StoreFuture<'a, Vec<u64>> {
        // Numbers that are never read again: nothing is kept.
        let n = writes
            .iter()
            .filter(|w| matches!(w, LogWrite::Append { .. }))
            .count() as u64;
        Box::pin(async move { Ok((1..=n).collect()) })
    }
    fn load_since<'a>(&'a self, _doc: &'a str, _after: u64) -> StoreFuture<'a, StoredDoc> {
        Box::pin(async { Ok(StoredDoc::default()) })
    }
    fn heads<'a>(&'a self, _docs: &'a [Arc<str>]) -> StoreFuture<'a, Vec<(String, u64)>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn log_stats<'a>(&'a self, _doc: &'a str) -> StoreFuture<'a, LogStats> {
        Box::pin(async { Ok(LogStats::default()) })
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn backend(&self) -> &'static str {
        "null"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::Update;
    use yrs::updates::decoder::Decode;

    #[test]
    fn typist_updates_rebuild_its_text() {
        let mut t = Typist::new(0x9E37_79B9, 42);
        let ups = t.updates(500);
        let avg = ups.iter().map(Bytes::len).sum::<usize>() / ups.len();
        assert!((10..=40).contains(&avg), "average update size {avg}");
        let replica = Doc::new();
        let text = replica.get_or_insert_text(TEXT_NAME);
        {
            let mut txn = replica.transact_mut();
            for u in &ups {
                txn.apply_update(Update::decode_v1(u).unwrap()).unwrap();
            }
        }
        assert_eq!(text.get_string(&replica.transact()), t.content());
        assert_eq!(t.content().chars().count(), 500);
    }
}
