//! Clients the way an application uses them against a cluster: writers that
//! type markers into a document while reading what arrives, note which of
//! their edits were acknowledged, and survive their node going away; a
//! reconnect to another node that keeps the local document (so unacknowledged
//! edits are sent again, as a client SDK does); and checks that clients
//! converge and that a newcomer loads the same content.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use goonline_protocol::native::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use yrs::Doc;

use super::harness::SLOW;
use crate::common::{Arrival, Dialect, Peer, WAIT};

/// The text one edit inserts; unique per writer `tag` and number `i`, and
/// never a substring of another.
pub fn marker(tag: &str, i: usize) -> String {
    format!("[{tag}.{i}]")
}

/// A client of `dialect` on `addr` that has asked to open `doc`.
async fn connect(addr: SocketAddr, dialect: Dialect, doc: &str) -> Peer {
    match dialect {
        Dialect::Native => {
            let mut p = Peer::native_at(addr).await;
            p.open(doc).await;
            p
        }
        Dialect::YWebsocket => Peer::yws(addr, doc).await,
        Dialect::Hocuspocus => {
            let mut p = Peer::hocus(addr).await;
            p.open(doc).await;
            p
        }
    }
}

/// A client of `dialect` on `addr` with `doc` open and synced.
pub async fn client(addr: SocketAddr, dialect: Dialect, doc: &str) -> Peer {
    let mut p = connect(addr, dialect, doc).await;
    wait_synced(&mut p, doc).await;
    p
}

/// The same client after its connection was lost, connected to `addr`: it
/// keeps its local document, so answering the server's SyncStep1 sends every
/// edit the server may lack.
pub async fn reconnect(old: &Peer, addr: SocketAddr, doc: &str) -> Peer {
    let local: Doc = old.docs[doc].clone();
    let mut p = connect(addr, old.dialect, doc).await;
    // Swapped in before anything from the server is read: the server's
    // SyncStep1 is answered from the old document.
    p.docs.insert(doc.to_string(), local);
    wait_synced(&mut p, doc).await;
    p
}

/// Waits for the server's SyncStep2 (and, on Hocuspocus, for the status of
/// the reply to the server's SyncStep1, so later statuses count edits).
async fn wait_synced(p: &mut Peer, doc: &str) {
    let hocus = p.dialect == Dialect::Hocuspocus;
    let ok = p
        .until(SLOW, |p| {
            p.synced.get(doc) == Some(&true) && (!hocus || !p.sync_status.is_empty())
        })
        .await;
    assert!(
        ok,
        "{:?} client synced {doc} (closed: {:?})",
        p.dialect, p.closed
    );
}

/// Appends `text`; `None` when the socket is gone. A node killed under the
/// client can make the send itself fail (the common client panics then):
/// that is caught and counted as the connection lost, the edit stays in the
/// local document.
pub async fn try_append(p: &mut Peer, doc: &str, text: &str) -> Option<u64> {
    if p.closed.is_some() {
        return None;
    }
    match AssertUnwindSafe(p.append_text(doc, text))
        .catch_unwind()
        .await
    {
        Ok(id) => Some(id),
        Err(_) => {
            p.closed = Some((None, "send failed".into()));
            None
        }
    }
}

/// Reads whatever arrives for `d` (no-op once closed).
pub async fn pump(p: &mut Peer, d: Duration) {
    p.until(d, |_| false).await;
}

/// A client typing markers into one document.
pub struct Writer {
    pub peer: Peer,
    pub doc: String,
    tag: String,
    /// (ack id, marker) of every edit sent, in order.
    pub sent: Vec<(u64, String)>,
    /// SyncStatus frames received before the first edit (Hocuspocus).
    status_base: usize,
}

/// When a writer stops: after `n` edits, or when told to.
#[derive(Clone)]
pub struct Stop {
    pub after: usize,
    pub flag: Arc<AtomicBool>,
}

impl Stop {
    /// After `n` edits.
    pub fn after(n: usize) -> Stop {
        Stop {
            after: n,
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    /// When [`Stop::now`] is called (or the socket closes).
    pub fn on_signal() -> Stop {
        Stop::after(usize::MAX)
    }

    /// Tells the writer to stop.
    pub fn now(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }
}

impl Writer {
    /// A writer on a synced client.
    pub fn new(peer: Peer, doc: &str, tag: &str) -> Writer {
        let status_base = peer.sync_status.len();
        Writer {
            peer,
            doc: doc.to_string(),
            tag: tag.to_string(),
            sent: Vec::new(),
            status_base,
        }
    }

    /// Types markers every `pause` (reading meanwhile) until `stop`, or until
    /// the socket closes. `acked`, if given, follows the acknowledged count.
    pub async fn run(
        mut self,
        stop: Stop,
        pause: Duration,
        acked: Option<Arc<AtomicUsize>>,
    ) -> Writer {
        while self.sent.len() < stop.after && !stop.flag.load(Ordering::SeqCst) {
            let m = marker(&self.tag, self.sent.len());
            match try_append(&mut self.peer, &self.doc, &m).await {
                Some(id) => self.sent.push((id, m)),
                None => break,
            }
            pump(&mut self.peer, pause).await;
            if let Some(a) = &acked {
                a.store(self.acked().len(), Ordering::SeqCst);
            }
        }
        self
    }

    /// The writer's tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Types `n` more markers, then waits until every one is acknowledged
    /// (y-websocket has no acknowledgements: it only types).
    pub async fn write_acked(&mut self, n: usize) {
        for _ in 0..n {
            let m = marker(&self.tag, self.sent.len());
            let id = try_append(&mut self.peer, &self.doc, &m)
                .await
                .expect("the connection is open");
            self.sent.push((id, m));
            pump(&mut self.peer, Duration::from_millis(2)).await;
        }
        if self.peer.dialect == Dialect::YWebsocket {
            return;
        }
        let total = self.sent.len();
        let ok = {
            let status_base = self.status_base;
            let sent = &self.sent;
            self.peer
                .until(SLOW, |p| acked_of(p, sent, status_base).len() == total)
                .await
        };
        assert!(
            ok,
            "{:?} writer {}: every edit acknowledged",
            self.peer.dialect, self.tag
        );
    }

    /// Every marker sent.
    pub fn markers(&self) -> Vec<String> {
        self.sent.iter().map(|(_, m)| m.clone()).collect()
    }

    /// The markers the server acknowledged as durable (none for y-websocket,
    /// which has no acknowledgements).
    pub fn acked(&self) -> Vec<String> {
        acked_of(&self.peer, &self.sent, self.status_base)
    }
}

fn acked_of(p: &Peer, sent: &[(u64, String)], status_base: usize) -> Vec<String> {
    match p.dialect {
        Dialect::Native => sent
            .iter()
            .filter(|(id, _)| p.acks.contains(id))
            .map(|(_, m)| m.clone())
            .collect(),
        // Statuses come in the order the edits were sent.
        Dialect::Hocuspocus => {
            let ok = p.sync_status[status_base.min(p.sync_status.len())..]
                .iter()
                .take_while(|s| **s)
                .count();
            sent.iter().take(ok).map(|(_, m)| m.clone()).collect()
        }
        Dialect::YWebsocket => Vec::new(),
    }
}

/// The markers of `expected` missing from `text`.
pub fn missing<'a>(text: &str, expected: &'a [String]) -> Vec<&'a str> {
    expected
        .iter()
        .filter(|m| !text.contains(m.as_str()))
        .map(String::as_str)
        .collect()
}

/// Reads on every client until all show the same text of `doc` with every
/// marker of `expected` exactly once; returns that text.
pub async fn converge(peers: &mut [&mut Peer], doc: &str, expected: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + SLOW;
    loop {
        for p in peers.iter_mut() {
            p.until(Duration::from_millis(50), |p| {
                missing(&p.text(doc), expected).is_empty()
            })
            .await;
        }
        let texts: Vec<String> = peers.iter().map(|p| p.text(doc)).collect();
        let all_there = texts.iter().all(|t| missing(t, expected).is_empty());
        if all_there && texts.iter().all(|t| *t == texts[0]) {
            for m in expected {
                assert_eq!(texts[0].matches(m.as_str()).count(), 1, "{m} once");
            }
            return texts[0].clone();
        }
        if tokio::time::Instant::now() >= deadline {
            let report: Vec<String> = peers
                .iter()
                .zip(&texts)
                .map(|(p, t)| {
                    format!(
                        "{:?} closed={:?} missing={:?}",
                        p.dialect,
                        p.closed,
                        missing(t, expected)
                    )
                })
                .collect();
            panic!("clients did not converge on {doc}: {report:#?}");
        }
    }
}

/// A new client of `dialect` on `addr` loads `doc` and shows every marker of
/// `expected` (waiting for a node still catching up); returns its text.
pub async fn newcomer_text(
    addr: SocketAddr,
    dialect: Dialect,
    doc: &str,
    expected: &[String],
) -> String {
    let mut p = client(addr, dialect, doc).await;
    let ok = p
        .until(SLOW, |p| missing(&p.text(doc), expected).is_empty())
        .await;
    let text = p.text(doc);
    assert!(
        ok,
        "a new {dialect:?} client on {addr} lacks {:?}",
        missing(&text, expected)
    );
    text
}

/// How a native sign-in ended.
pub enum SignIn {
    /// `welcome`: the connection is signed in.
    Admitted(Box<Peer>),
    /// Closed before `welcome`, with this close code and these error codes.
    Refused(Option<u16>, Vec<String>),
}

/// Opens a native connection and says `hello` with `token`.
pub async fn sign_in(addr: SocketAddr, token: &str) -> SignIn {
    let mut p = Peer::raw_at(&format!("ws://{addr}/v1/ws"), Dialect::Native).await;
    p.send(
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            client: Some("cluster-test".into()),
            token: Some(token.to_string()),
        }
        .encode(),
    )
    .await;
    let mut errors = Vec::new();
    loop {
        match p.next_arrival(WAIT).await {
            Some(Arrival::Frame(f)) => match ServerFrame::decode(&f).expect("server frame") {
                ServerFrame::Welcome { .. } => return SignIn::Admitted(Box::new(p)),
                ServerFrame::Error { code, .. } => errors.push(code.as_str().to_string()),
                other => panic!("unexpected frame before welcome: {other:?}"),
            },
            Some(Arrival::Closed(code, _)) => return SignIn::Refused(code, errors),
            None => panic!("no answer to hello on {addr}"),
        }
    }
}

/// The sequence numbers a subscriber got for `topic`, after reading a little
/// longer so that a late duplicate would show.
pub async fn settled_seqs(p: &mut Peer, topic: &str) -> Vec<u64> {
    pump(p, Duration::from_millis(300)).await;
    p.topic_seqs(topic)
}

/// Waits until `p` got at least `n` events of `topic`.
pub async fn until_events(p: &mut Peer, topic: &str, n: usize) {
    let ok = p.until(SLOW, |p| p.topic_events(topic).len() >= n).await;
    assert!(
        ok,
        "{n} events of {topic}; got {:?} (closed {:?})",
        p.topic_seqs(topic),
        p.closed
    );
}

/// `1..=n`.
pub fn one_to(n: usize) -> Vec<u64> {
    (1..=n as u64).collect()
}

/// The distinct values, to compare sets.
pub fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
    items.iter().cloned().collect()
}
