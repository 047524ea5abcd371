//! A real WebSocket client for each dialect, keeping a Yrs doc per document in
//! step with what it receives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use goonline_protocol::awareness::{
    AwarenessEntry, decode_awareness_update, encode_awareness_update,
};
use goonline_protocol::hocuspocus::{HocusAuth, HocusFrame, HocusMessage};
use goonline_protocol::native::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use goonline_protocol::sync::SyncMessage;
use goonline_protocol::ywebsocket::YwsMessage;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Update};

mod calls;
mod topics;

use super::{TestServer, WAIT};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a client saw arrive.
#[derive(Debug)]
pub enum Arrival {
    Frame(Bytes),
    Closed(Option<u16>, String),
}

/// Which protocol a [`Peer`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Native,
    YWebsocket,
    Hocuspocus,
}

/// A WebSocket client for one dialect that keeps a Yrs doc per document.
pub struct Peer {
    pub dialect: Dialect,
    ws: Ws,
    pub docs: HashMap<String, Doc>,
    pub acks: Vec<u64>,
    pub errors: Vec<ServerFrame>,
    pub sync_status: Vec<bool>,
    pub awareness: HashMap<String, HashMap<u64, String>>,
    pub closed: Option<(Option<u16>, String)>,
    pub synced: HashMap<String, bool>,
    pub pongs: usize,
    next_id: u64,
    pub client_id: u64,
    /// Native frames not handled above (reply, access, authenticated, reauth).
    pub frames: Vec<ServerFrame>,
    /// Hocuspocus auth messages: (address, "authenticated:<scope>" |
    /// "denied:<reason>" | "token_request").
    pub hocus_auth: Vec<(String, String)>,
    /// The token Hocuspocus auth frames carry ("" when none).
    pub token: String,
}

impl Peer {
    /// A connected socket with no handshake sent.
    pub async fn raw_at(url: &str, dialect: Dialect) -> Peer {
        Self::raw(url, dialect).await
    }

    async fn raw(url: &str, dialect: Dialect) -> Peer {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Self::over(ws, dialect)
    }

    /// A client on a socket the test opened itself (e.g. WSS trusting a test
    /// CA), no handshake sent.
    pub fn over(ws: Ws, dialect: Dialect) -> Peer {
        Peer {
            dialect,
            ws,
            docs: HashMap::new(),
            acks: Vec::new(),
            errors: Vec::new(),
            sync_status: Vec::new(),
            awareness: HashMap::new(),
            closed: None,
            synced: HashMap::new(),
            pongs: 0,
            next_id: 1,
            client_id: rand_client_id(),
            frames: Vec::new(),
            hocus_auth: Vec::new(),
            token: String::new(),
        }
    }

    /// A native client after hello/welcome.
    pub async fn native(server: &TestServer) -> Peer {
        Self::native_at(server.addr).await
    }

    pub async fn native_at(addr: SocketAddr) -> Peer {
        Self::native_signed_in(addr, None).await
    }

    /// A native client after hello (with `token`, if any) and welcome.
    pub async fn native_signed_in(addr: SocketAddr, token: Option<&str>) -> Peer {
        let mut p = Peer::raw(&format!("ws://{addr}/v1/ws"), Dialect::Native).await;
        p.hello(token).await;
        p
    }

    /// Sends the native `hello` (with `token`, if any) and waits for `welcome`.
    pub async fn hello(&mut self, token: Option<&str>) {
        self.send(
            ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                client: Some("test".into()),
                token: token.map(str::to_string),
            }
            .encode(),
        )
        .await;
        match self.next_frame().await {
            Some(f) => match ServerFrame::decode(&f).expect("welcome decodes") {
                ServerFrame::Welcome { version, .. } => assert_eq!(version, PROTOCOL_VERSION),
                other => panic!("expected welcome, got {other:?}"),
            },
            None => panic!("no welcome"),
        }
    }

    /// A y-websocket client on `doc`, handshake sent.
    pub async fn yws(addr: SocketAddr, doc: &str) -> Peer {
        Self::yws_signed_in(addr, doc, None).await
    }

    /// A y-websocket client on `doc` with `?token=`, handshake sent.
    pub async fn yws_signed_in(addr: SocketAddr, doc: &str, token: Option<&str>) -> Peer {
        let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
        let mut p = Peer::raw(&format!("ws://{addr}/y/{doc}{query}"), Dialect::YWebsocket).await;
        p.docs.insert(doc.to_string(), new_doc(p.client_id));
        let sv = p.docs[doc].transact().state_vector().encode_v1();
        p.send(YwsMessage::Sync(SyncMessage::Step1(&sv)).to_vec())
            .await;
        p
    }

    /// A Hocuspocus connection (no document yet).
    pub async fn hocus(addr: SocketAddr) -> Peer {
        Peer::raw(&format!("ws://{addr}/hocuspocus"), Dialect::Hocuspocus).await
    }

    /// Opens a document (native or Hocuspocus) and sends the sync step 1.
    pub async fn open(&mut self, doc: &str) {
        self.docs.insert(doc.to_string(), new_doc(self.client_id));
        let sv = self.docs[doc].transact().state_vector().encode_v1();
        match self.dialect {
            Dialect::Native => {
                self.send(
                    ClientFrame::Open {
                        doc: doc.into(),
                        id: None,
                    }
                    .encode(),
                )
                .await;
                self.send(
                    ClientFrame::Sync {
                        doc: doc.into(),
                        data: SyncMessage::Step1(&sv).to_vec(),
                        id: None,
                    }
                    .encode(),
                )
                .await;
            }
            Dialect::Hocuspocus => {
                let token = self.token.clone();
                let auth = HocusFrame::Doc {
                    address: doc,
                    message: HocusMessage::Auth(HocusAuth::Token {
                        token: &token,
                        provider_version: Some("test"),
                    }),
                };
                self.send(auth.to_vec()).await;
                self.send(
                    HocusFrame::Doc {
                        address: doc,
                        message: HocusMessage::Sync(SyncMessage::Step1(&sv)),
                    }
                    .to_vec(),
                )
                .await;
            }
            Dialect::YWebsocket => panic!("y-websocket peers open their doc at connect"),
        }
    }

    pub async fn send(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(Bytes::from(bytes)))
            .await
            .expect("send");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send text");
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        match self.next_arrival(WAIT).await {
            Some(Arrival::Frame(b)) => Some(b),
            _ => None,
        }
    }

    /// The next binary frame or close, within `timeout`.
    pub async fn next_arrival(&mut self, timeout: Duration) -> Option<Arrival> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match msg {
                Some(Ok(Message::Binary(b))) => return Some(Arrival::Frame(b)),
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                        .unwrap_or((None, String::new()));
                    return Some(Arrival::Closed(code, reason));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Some(Arrival::Closed(None, e.to_string())),
                None => return Some(Arrival::Closed(None, "stream ended".into())),
            }
        }
    }

    /// Processes arrivals until `pred` holds; false on timeout or close.
    pub async fn until(&mut self, timeout: Duration, mut pred: impl FnMut(&Peer) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if self.closed.is_some() {
                return false;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.next_arrival(left).await {
                Some(Arrival::Frame(f)) => self.handle(&f).await,
                Some(Arrival::Closed(code, reason)) => self.closed = Some((code, reason)),
                None => {}
            }
        }
    }

    /// Waits for the server to close the socket; returns its close code.
    pub async fn closed_with(&mut self, timeout: Duration) -> Option<u16> {
        self.until(timeout, |p| p.closed.is_some()).await;
        self.closed.as_ref().and_then(|(c, _)| *c)
    }

    async fn handle(&mut self, f: &[u8]) {
        match self.dialect {
            Dialect::Native => match ServerFrame::decode(f).expect("server frame decodes") {
                ServerFrame::Sync { doc, data } => {
                    let msg = SyncMessage::decode_all(&data).expect("sync decodes");
                    self.on_sync(&doc, msg).await;
                }
                ServerFrame::Awareness { doc, data } => self.on_awareness(&doc, &data),
                ServerFrame::Ack { id, .. } => self.acks.push(id),
                ServerFrame::Pong { .. } => self.pongs += 1,
                e @ ServerFrame::Error { .. } => self.errors.push(e),
                ServerFrame::Welcome { .. } => panic!("second welcome"),
                other => self.frames.push(other),
            },
            Dialect::YWebsocket => {
                let doc = self.docs.keys().next().cloned().expect("doc");
                match YwsMessage::decode(f).expect("y-websocket frame decodes") {
                    YwsMessage::Sync(msg) => self.on_sync(&doc, msg).await,
                    YwsMessage::Awareness(a) => self.on_awareness(&doc, a),
                    YwsMessage::Auth { denied_reason } => self.errors.push(ServerFrame::Error {
                        code: goonline_protocol::codes::ErrorCode::Forbidden,
                        message: denied_reason.into(),
                        re: None,
                        doc: None,
                        topic: None,
                    }),
                    YwsMessage::QueryAwareness => {}
                }
            }
            Dialect::Hocuspocus => match HocusFrame::decode(f).expect("hocuspocus frame decodes") {
                HocusFrame::Ping => self.send(HocusFrame::Pong.to_vec()).await,
                HocusFrame::Pong => self.pongs += 1,
                HocusFrame::Doc { address, message } => {
                    let doc = address.to_string();
                    match message {
                        HocusMessage::Sync(msg) => self.on_sync(&doc, msg).await,
                        HocusMessage::Awareness(a) => self.on_awareness(&doc, a),
                        HocusMessage::SyncStatus(ok) => self.sync_status.push(ok),
                        HocusMessage::Auth(HocusAuth::Authenticated { scope }) => self
                            .hocus_auth
                            .push((doc, format!("authenticated:{scope}"))),
                        HocusMessage::Auth(HocusAuth::PermissionDenied { reason }) => {
                            self.hocus_auth.push((doc, format!("denied:{reason}")))
                        }
                        HocusMessage::Auth(HocusAuth::TokenRequest) => {
                            self.hocus_auth.push((doc, "token_request".into()))
                        }
                        other => panic!("unexpected hocuspocus message {other:?}"),
                    }
                }
            },
        }
    }

    async fn on_sync(&mut self, doc: &str, msg: SyncMessage<'_>) {
        let ydoc = self
            .docs
            .get(doc)
            .unwrap_or_else(|| panic!("sync for unknown doc {doc}"))
            .clone();
        match msg {
            SyncMessage::Step1(sv) => {
                let sv = StateVector::decode_v1(sv).expect("sv");
                let diff = ydoc.transact().encode_diff_v1(&sv);
                let step2 = SyncMessage::Step2(&diff);
                let frame = self.frame_for(doc, step2, None);
                self.send(frame).await;
            }
            SyncMessage::Step2(u) => {
                apply(&ydoc, u);
                self.synced.insert(doc.to_string(), true);
            }
            SyncMessage::Update(u) => apply(&ydoc, u),
        }
    }

    fn on_awareness(&mut self, doc: &str, data: &[u8]) {
        let states = self.awareness.entry(doc.to_string()).or_default();
        for e in decode_awareness_update(data).expect("awareness decodes") {
            if e.is_removal() {
                states.remove(&e.client_id);
            } else {
                states.insert(e.client_id, e.state.to_string());
            }
        }
    }

    fn frame_for(&mut self, doc: &str, msg: SyncMessage<'_>, id: Option<u64>) -> Vec<u8> {
        match self.dialect {
            Dialect::Native => ClientFrame::Sync {
                doc: doc.into(),
                data: msg.to_vec(),
                id,
            }
            .encode(),
            Dialect::YWebsocket => YwsMessage::Sync(msg).to_vec(),
            Dialect::Hocuspocus => HocusFrame::Doc {
                address: doc,
                message: HocusMessage::Sync(msg),
            }
            .to_vec(),
        }
    }

    /// Sends a local update; returns the ack id (native).
    pub async fn send_update(&mut self, doc: &str, update: Vec<u8>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let frame = self.frame_for(doc, SyncMessage::Update(&update), Some(id));
        self.send(frame).await;
        id
    }

    pub async fn append_text(&mut self, doc: &str, s: &str) -> u64 {
        let ydoc = self.docs[doc].clone();
        // Root types are fetched before the transaction: Yrs takes one internally.
        let t = ydoc.get_or_insert_text("t");
        let update = {
            let mut txn = ydoc.transact_mut();
            let len = t.len(&txn);
            t.insert(&mut txn, len, s);
            txn.encode_update_v1()
        };
        self.send_update(doc, update).await
    }

    pub async fn set_key(&mut self, doc: &str, key: &str, value: &str) -> u64 {
        let ydoc = self.docs[doc].clone();
        let m = ydoc.get_or_insert_map("m");
        let update = {
            let mut txn = ydoc.transact_mut();
            m.insert(&mut txn, key.to_string(), value.to_string());
            txn.encode_update_v1()
        };
        self.send_update(doc, update).await
    }

    pub async fn set_awareness(&mut self, doc: &str, clock: u64, state: &str) {
        let mut update = Vec::new();
        encode_awareness_update(
            [AwarenessEntry {
                client_id: self.client_id,
                clock,
                state,
            }],
            &mut update,
        );
        let frame = match self.dialect {
            Dialect::Native => ClientFrame::Awareness {
                doc: doc.into(),
                data: update,
            }
            .encode(),
            Dialect::YWebsocket => YwsMessage::Awareness(&update).to_vec(),
            Dialect::Hocuspocus => HocusFrame::Doc {
                address: doc,
                message: HocusMessage::Awareness(&update),
            }
            .to_vec(),
        };
        self.send(frame).await;
    }

    pub fn text(&self, doc: &str) -> String {
        let d = &self.docs[doc];
        let t = d.get_or_insert_text("t");
        t.get_string(&d.transact())
    }

    pub fn map_json(&self, doc: &str) -> String {
        let d = &self.docs[doc];
        let m = d.get_or_insert_map("m");
        let txn = d.transact();
        let mut entries: Vec<(String, String)> = m
            .iter(&txn)
            .map(|(k, v)| (k.to_string(), v.to_string(&txn)))
            .collect();
        entries.sort();
        format!("{entries:?}")
    }

    pub fn state(&self, doc: &str) -> (Vec<u8>, String, String) {
        let (text, map) = (self.text(doc), self.map_json(doc));
        // Decoded and sorted: the encoding's client order is not deterministic.
        let sv: std::collections::BTreeMap<String, u32> = self.docs[doc]
            .transact()
            .state_vector()
            .iter()
            .map(|(c, k)| (format!("{c:?}"), *k))
            .collect();
        (format!("{sv:?}").into_bytes(), text, map)
    }
}

fn new_doc(client_id: u64) -> Doc {
    Doc::with_client_id(client_id)
}

fn rand_client_id() -> u64 {
    (uuid::Uuid::new_v4().as_u64_pair().0) & 0x3fff_ffff
}

pub fn apply(doc: &Doc, update: &[u8]) {
    let u = Update::decode_v1(update).expect("update decodes");
    doc.transact_mut().apply_update(u).expect("apply");
}
