//! The client side of the three dialects, reduced to what a load client needs:
//! the frames to join a document, send an update or an awareness state, and a
//! classification of what arrives. Frames are built once and reused; nothing here
//! touches a Yjs document.

use bytes::Bytes;
use goonline_protocol::hocuspocus::{HocusAuth, HocusFrame, HocusMessage};
use goonline_protocol::native::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use goonline_protocol::sync::SyncMessage;
use goonline_protocol::ywebsocket::YwsMessage;

/// Which protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// y-websocket: one document per socket, the document name in the URL.
    Yws,
    /// Hocuspocus: every frame starts with the document name.
    Hocus,
    /// GoOnline's MessagePack protocol (acks durable updates).
    Native,
}

/// The empty Yjs update: what a client with no local changes answers a step 1 with.
const EMPTY_UPDATE: &[u8] = &[0, 0];

/// Something that arrived, as far as a load client cares.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// The server asks for our state (answer with [`Dialect::step2_empty`]).
    Step1,
    /// The document's state: we are synced. Carries a Yjs update.
    Step2(&'a [u8]),
    /// Someone's update (or our own echoed back).
    Update(&'a [u8]),
    /// An awareness update with this many client entries.
    Awareness(usize),
    /// The native ack of our update `id`.
    Ack(u64),
    /// An application-level ping to answer (Hocuspocus).
    Ping,
    /// An error from the server (native error frame, Hocuspocus permission denied).
    Refused(String),
    /// Anything else (status frames, pongs, welcome...).
    Other,
}

impl Dialect {
    /// The URL to connect to for `doc`.
    pub fn url(&self, base: &str, doc: &str) -> String {
        match self {
            Dialect::Yws => format!("{}/{doc}", base.trim_end_matches('/')),
            Dialect::Hocus | Dialect::Native => base.to_string(),
        }
    }

    /// Frames a client sends right after connecting to join `doc` and ask for its
    /// state (sync step 1 with an empty state vector).
    pub fn join(&self, doc: &str) -> Vec<Bytes> {
        let step1 = SyncMessage::Step1(&[0]);
        match self {
            Dialect::Yws => vec![YwsMessage::Sync(step1).to_vec().into()],
            Dialect::Hocus => vec![
                hocus(
                    doc,
                    HocusMessage::Auth(HocusAuth::Token {
                        token: "",
                        provider_version: None,
                    }),
                ),
                hocus(doc, HocusMessage::Sync(step1)),
            ],
            Dialect::Native => vec![
                ClientFrame::Hello {
                    version: PROTOCOL_VERSION,
                    client: Some("goonline-loadgen".into()),
                    token: None,
                }
                .encode()
                .into(),
                ClientFrame::Open {
                    doc: doc.into(),
                    id: None,
                }
                .encode()
                .into(),
                ClientFrame::Sync {
                    doc: doc.into(),
                    data: step1.to_vec(),
                    id: None,
                }
                .encode()
                .into(),
            ],
        }
    }

    /// The answer to a server's step 1 from a client with nothing to add.
    pub fn step2_empty(&self, doc: &str) -> Bytes {
        let step2 = SyncMessage::Step2(EMPTY_UPDATE);
        match self {
            Dialect::Yws => YwsMessage::Sync(step2).to_vec().into(),
            Dialect::Hocus => hocus(doc, HocusMessage::Sync(step2)),
            Dialect::Native => ClientFrame::Sync {
                doc: doc.into(),
                data: step2.to_vec(),
                id: None,
            }
            .encode()
            .into(),
        }
    }

    /// A frame carrying one Yjs update; `id` asks the native dialect for an ack.
    pub fn update(&self, doc: &str, update: &[u8], id: Option<u64>) -> Bytes {
        let msg = SyncMessage::Update(update);
        match self {
            Dialect::Yws => YwsMessage::Sync(msg).to_vec().into(),
            Dialect::Hocus => hocus(doc, HocusMessage::Sync(msg)),
            Dialect::Native => ClientFrame::Sync {
                doc: doc.into(),
                data: msg.to_vec(),
                id,
            }
            .encode()
            .into(),
        }
    }

    /// A frame carrying one awareness update.
    pub fn awareness(&self, doc: &str, data: &[u8]) -> Bytes {
        match self {
            Dialect::Yws => YwsMessage::Awareness(data).to_vec().into(),
            Dialect::Hocus => hocus(doc, HocusMessage::Awareness(data)),
            Dialect::Native => ClientFrame::Awareness {
                doc: doc.into(),
                data: data.to_vec(),
            }
            .encode()
            .into(),
        }
    }

    /// The answer to an application-level ping.
    pub fn pong(&self) -> Bytes {
        HocusFrame::Pong.to_vec().into()
    }

    /// Classifies one received binary frame. `decode` errors are reported as
    /// [`Incoming::Refused`] so a broken server shows up instead of hanging a run.
    pub fn classify<'a>(&self, frame: &'a [u8], scratch: &'a mut Vec<u8>) -> Incoming<'a> {
        match self {
            Dialect::Yws => match YwsMessage::decode(frame) {
                Ok(YwsMessage::Sync(s)) => sync(s),
                Ok(YwsMessage::Awareness(a)) => Incoming::Awareness(awareness_entries(a)),
                Ok(YwsMessage::Auth { denied_reason }) => Incoming::Refused(denied_reason.into()),
                Ok(YwsMessage::QueryAwareness) => Incoming::Other,
                Err(e) => Incoming::Refused(format!("undecodable y-websocket frame: {e}")),
            },
            Dialect::Hocus => match HocusFrame::decode(frame) {
                Ok(HocusFrame::Ping) => Incoming::Ping,
                Ok(HocusFrame::Pong) => Incoming::Other,
                Ok(HocusFrame::Doc { message, .. }) => match message {
                    HocusMessage::Sync(s) | HocusMessage::SyncReply(s) => sync(s),
                    HocusMessage::Awareness(a) => Incoming::Awareness(awareness_entries(a)),
                    HocusMessage::Auth(HocusAuth::PermissionDenied { reason }) => {
                        Incoming::Refused(reason.into())
                    }
                    _ => Incoming::Other,
                },
                Err(e) => Incoming::Refused(format!("undecodable Hocuspocus frame: {e}")),
            },
            Dialect::Native => match ServerFrame::decode(frame) {
                Ok(ServerFrame::Sync { data, .. }) => {
                    *scratch = data;
                    match SyncMessage::decode_all(scratch) {
                        Ok(s) => sync(s),
                        Err(e) => Incoming::Refused(format!("undecodable sync payload: {e}")),
                    }
                }
                Ok(ServerFrame::Awareness { data, .. }) => {
                    Incoming::Awareness(awareness_entries(&data))
                }
                Ok(ServerFrame::Ack { id, .. }) => Incoming::Ack(id),
                Ok(ServerFrame::Error { code, message, .. }) => {
                    Incoming::Refused(format!("{code:?}: {message}"))
                }
                Ok(_) => Incoming::Other,
                Err(e) => Incoming::Refused(format!("undecodable native frame: {e}")),
            },
        }
    }
}

fn hocus(doc: &str, message: HocusMessage<'_>) -> Bytes {
    HocusFrame::Doc {
        address: doc,
        message,
    }
    .to_vec()
    .into()
}

fn sync(s: SyncMessage<'_>) -> Incoming<'_> {
    match s {
        SyncMessage::Step1(_) => Incoming::Step1,
        SyncMessage::Step2(u) => Incoming::Step2(u),
        SyncMessage::Update(u) => Incoming::Update(u),
    }
}

/// Number of client states in an awareness update (its first varUint); 1 when
/// unreadable, so a frame still counts.
fn awareness_entries(data: &[u8]) -> usize {
    goonline_protocol::lib0::Reader::new(data)
        .read_var_uint()
        .map_or(1, |n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_reads_back_its_own_update_frames() {
        let update = [1u8, 1, 7, 0, 4, 1, 1, b't', 1, b'x', 0];
        for d in [Dialect::Yws, Dialect::Hocus] {
            let frame = d.update("doc", &update, None);
            let mut scratch = Vec::new();
            match d.classify(&frame, &mut scratch) {
                Incoming::Update(u) => assert_eq!(u, update),
                other => panic!("{d:?}: {other:?}"),
            }
        }
        let step2 = Dialect::Hocus.step2_empty("doc");
        let mut scratch = Vec::new();
        assert!(matches!(
            Dialect::Hocus.classify(&step2, &mut scratch),
            Incoming::Step2(&[0, 0])
        ));
    }

    #[test]
    fn garbage_is_refused_not_a_panic() {
        for d in [Dialect::Yws, Dialect::Hocus, Dialect::Native] {
            let mut scratch = Vec::new();
            assert!(matches!(
                d.classify(&[0xff, 0xff, 0xff], &mut scratch),
                Incoming::Refused(_)
            ));
        }
    }

    #[test]
    fn urls_follow_the_dialect() {
        assert_eq!(Dialect::Yws.url("ws://h/y/", "d1"), "ws://h/y/d1");
        assert_eq!(
            Dialect::Hocus.url("ws://h/hocuspocus", "d1"),
            "ws://h/hocuspocus"
        );
    }
}
