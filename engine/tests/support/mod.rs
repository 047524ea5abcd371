//! Helpers for engine tests: engines on real stores, and a client-side Yrs doc
//! that follows what a session receives.

#![allow(dead_code)]

pub mod chat_world;
pub mod comments_world;
pub mod tenancy_world;
pub mod topic_client;
pub mod versions_world;
pub mod workspaces_world;

use std::time::Duration;

use goonline_engine::outbound::Outbound;

use goonline_engine::{Engine, EngineConfig, Session, SessionEvents};
use goonline_protocol::sync::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

// (Not every test target uses every helper.)
#[allow(unused_imports)]
pub use goonline_engine::testing::start_engine as engine;

/// A session plus the client-side document it keeps in step.
pub struct Client {
    pub session: Session,
    pub events: SessionEvents,
    pub doc: Doc,
    pub acks: Vec<Option<u64>>,
    pub awareness: Vec<Vec<u8>>,
    next_id: u64,
}

impl Client {
    pub fn connect(engine: &Engine) -> Client {
        let (session, events) = engine.connect().expect("connect");
        Client {
            session,
            events,
            doc: Doc::new(),
            acks: Vec::new(),
            awareness: Vec::new(),
            next_id: 1,
        }
    }

    /// Opens `name` and completes the sync handshake.
    pub async fn open(&mut self, name: &str) {
        self.session.open(name).await.expect("open");
        let sv = self.doc.transact().state_vector().encode_v1_bytes();
        self.session
            .sync(name, SyncMessage::Step1(&sv), None)
            .expect("step1");
        self.pump();
    }

    /// Inserts `s` at the end of text `t` and sends the update; returns its ack id.
    pub fn type_text(&mut self, name: &str, s: &str) -> u64 {
        let update = {
            let text = self.doc.get_or_insert_text("t");
            let mut txn = self.doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, s);
            txn.encode_update_v1()
        };
        let id = self.next_id;
        self.next_id += 1;
        self.session
            .sync(name, SyncMessage::Update(&update), Some(id))
            .expect("update");
        id
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("t");
        text.get_string(&self.doc.transact())
    }

    /// Applies everything queued for this session; returns how many messages.
    pub fn pump(&mut self) -> usize {
        let mut n = 0;
        while let Ok(msg) = self.events.rx.try_recv() {
            self.handle(msg.msg);
            n += 1;
        }
        n
    }

    fn handle(&mut self, msg: Outbound) {
        match msg {
            Outbound::Sync { data, .. } => {
                match SyncMessage::decode_all(&data).expect("sync from server") {
                    SyncMessage::Step1(_) => {}
                    SyncMessage::Step2(u) | SyncMessage::Update(u) => apply(&self.doc, u),
                }
            }
            Outbound::Update(b) => apply(&self.doc, &b.payload),
            Outbound::Awareness(b) => self.awareness.push(b.payload.to_vec()),
            Outbound::Ack { id, .. } => self.acks.push(id),
            // Topic messages are followed by `topic_client::Follower`.
            _ => {}
        }
    }

    /// Pumps until `pred` holds or `timeout` passes.
    pub async fn until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Client) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.pump();
            if pred(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            if let Ok(Some(msg)) = tokio::time::timeout_at(deadline, self.events.rx.recv()).await {
                self.handle(msg.msg);
            }
        }
    }
}

/// An awareness update with one client's state (`"null"` removes it).
pub fn awareness_update(client_id: u64, clock: u64, state: &str) -> Vec<u8> {
    let mut out = Vec::new();
    goonline_protocol::awareness::encode_awareness_update(
        [goonline_protocol::awareness::AwarenessEntry {
            client_id,
            clock,
            state,
        }],
        &mut out,
    );
    out
}

pub fn apply(doc: &Doc, update: &[u8]) {
    let u = Update::decode_v1(update).expect("update from server decodes");
    doc.transact_mut().apply_update(u).expect("apply");
}

pub trait SvBytes {
    fn encode_v1_bytes(&self) -> Vec<u8>;
}

impl SvBytes for StateVector {
    fn encode_v1_bytes(&self) -> Vec<u8> {
        yrs::updates::encoder::Encode::encode_v1(self)
    }
}

/// Text of a doc encoded as a v1 update.
pub fn text_of_state(state: &[u8]) -> String {
    let doc = Doc::new();
    apply(&doc, state);
    let text = doc.get_or_insert_text("t");
    text.get_string(&doc.transact())
}

/// State vector of a doc encoded as a v1 update.
pub fn sv_of_state(state: &[u8]) -> StateVector {
    let doc = Doc::new();
    apply(&doc, state);
    doc.transact().state_vector()
}

pub const WAIT: Duration = Duration::from_secs(10);

/// Engine settings for tests: a fast housekeeping sweep.
pub fn quick_config() -> EngineConfig {
    EngineConfig {
        sweep_interval: Duration::from_millis(20),
        ..EngineConfig::default()
    }
}

/// Joins futures without pulling in another crate.
pub async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut out = Vec::new();
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}
