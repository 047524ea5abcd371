//! How a [`BusMessage`] is written for a bus that leaves the process: the
//! channel becomes a pub/sub channel name under a prefix (so several clusters,
//! or several tests, can share one Redis), and the rest one MessagePack value.
//!
//! Decoding input from the network never panics: a message that does not
//! decode is an error the bus counts and drops (the store repairs the gap).

use std::sync::Arc;

use bytes::Bytes;
use goonline_protocol::native::PresenceEntry;
use serde::{Deserialize, Serialize};

use super::{BusMessage, BusPayload, Channel, Control};

/// A message that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The channel name is not one of ours.
    #[error("unknown channel `{0}`")]
    Channel(String),
    /// The body is not a bus message.
    #[error("bus message does not decode: {0}")]
    Body(String),
}

/// The pub/sub channel name for `channel` under `prefix`.
pub fn channel_name(prefix: &str, channel: &Channel) -> String {
    match channel {
        Channel::Doc(d) => format!("{prefix}:d:{d}"),
        Channel::Topic(t) => format!("{prefix}:t:{t}"),
        Channel::Control => format!("{prefix}:ctl"),
    }
}

/// The channel a pub/sub channel name under `prefix` stands for.
pub fn parse_channel(prefix: &str, name: &str) -> Result<Channel, WireError> {
    let bad = || WireError::Channel(name.to_string());
    let rest = name
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    if rest == "ctl" {
        Ok(Channel::Control)
    } else if let Some(d) = rest.strip_prefix("d:") {
        Ok(Channel::Doc(Arc::from(d)))
    } else if let Some(t) = rest.strip_prefix("t:") {
        Ok(Channel::Topic(Arc::from(t)))
    } else {
        Err(bad())
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    /// Origin node.
    o: u64,
    /// Sent at (epoch ms).
    t: i64,
    /// Payload.
    p: WirePayload,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k")]
enum WirePayload {
    #[serde(rename = "u")]
    Update {
        seq: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    #[serde(rename = "a")]
    Awareness {
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    #[serde(rename = "aq")]
    AwarenessQuery,
    #[serde(rename = "e")]
    TopicEvent {
        seq: u64,
        at: i64,
        /// The event's JSON, as text: MessagePack cannot carry every JSON
        /// value losslessly through serde_json's `Value` (big integers).
        data: String,
    },
    #[serde(rename = "p")]
    TopicPresence { entries: Vec<PresenceEntry> },
    #[serde(rename = "pq")]
    PresenceQuery,
    #[serde(rename = "c")]
    Control(WireControl),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "c")]
enum WireControl {
    #[serde(rename = "access")]
    AccessChanged { user: String },
    #[serde(rename = "end")]
    EndSessions {
        user: String,
        auth_session: Option<String>,
        code: u16,
        reason: String,
    },
    #[serde(rename = "recheck")]
    RecheckDocs { prefix: String },
    #[serde(rename = "retire")]
    Retire { doc: String },
    #[serde(rename = "reinstate")]
    Reinstate { doc: String },
}

/// Encodes `msg`'s origin, time and payload (the channel travels as the
/// pub/sub channel name).
pub fn encode(msg: &BusMessage) -> Vec<u8> {
    let p = match &msg.payload {
        BusPayload::Update { seq, data } => WirePayload::Update {
            seq: *seq,
            data: data.to_vec(),
        },
        BusPayload::Awareness(data) => WirePayload::Awareness {
            data: data.to_vec(),
        },
        BusPayload::AwarenessQuery => WirePayload::AwarenessQuery,
        BusPayload::TopicEvent { seq, at, data } => WirePayload::TopicEvent {
            seq: *seq,
            at: *at,
            data: data.to_string(),
        },
        BusPayload::TopicPresence(entries) => WirePayload::TopicPresence {
            entries: entries.clone(),
        },
        BusPayload::PresenceQuery => WirePayload::PresenceQuery,
        BusPayload::Control(c) => WirePayload::Control(match c.clone() {
            Control::AccessChanged { user } => WireControl::AccessChanged { user },
            Control::EndSessions {
                user,
                auth_session,
                code,
                reason,
            } => WireControl::EndSessions {
                user,
                auth_session,
                code,
                reason,
            },
            Control::RecheckDocs { prefix } => WireControl::RecheckDocs { prefix },
            Control::Retire { doc } => WireControl::Retire { doc },
            Control::Reinstate { doc } => WireControl::Reinstate { doc },
        }),
    };
    let wire = Wire {
        o: msg.origin,
        t: msg.sent_at,
        p,
    };
    // Serializing these plain structs to a Vec cannot fail.
    rmp_serde::to_vec_named(&wire).unwrap_or_default()
}

/// Decodes a message received on `channel`.
pub fn decode(channel: Channel, body: &[u8]) -> Result<BusMessage, WireError> {
    let wire: Wire = rmp_serde::from_slice(body).map_err(|e| WireError::Body(e.to_string()))?;
    let payload = match wire.p {
        WirePayload::Update { seq, data } => BusPayload::Update {
            seq,
            data: Bytes::from(data),
        },
        WirePayload::Awareness { data } => BusPayload::Awareness(Bytes::from(data)),
        WirePayload::AwarenessQuery => BusPayload::AwarenessQuery,
        WirePayload::TopicEvent { seq, at, data } => BusPayload::TopicEvent {
            seq,
            at,
            data: Arc::new(
                serde_json::from_str(&data).map_err(|e| WireError::Body(e.to_string()))?,
            ),
        },
        WirePayload::TopicPresence { entries } => BusPayload::TopicPresence(entries),
        WirePayload::PresenceQuery => BusPayload::PresenceQuery,
        WirePayload::Control(c) => BusPayload::Control(match c {
            WireControl::AccessChanged { user } => Control::AccessChanged { user },
            WireControl::EndSessions {
                user,
                auth_session,
                code,
                reason,
            } => Control::EndSessions {
                user,
                auth_session,
                code,
                reason,
            },
            WireControl::RecheckDocs { prefix } => Control::RecheckDocs { prefix },
            WireControl::Retire { doc } => Control::Retire { doc },
            WireControl::Reinstate { doc } => Control::Reinstate { doc },
        }),
    };
    let kind_fits = matches!(
        (&channel, &payload),
        (
            Channel::Doc(_),
            BusPayload::Update { .. } | BusPayload::Awareness(_) | BusPayload::AwarenessQuery
        ) | (
            Channel::Topic(_),
            BusPayload::TopicEvent { .. }
                | BusPayload::TopicPresence(_)
                | BusPayload::PresenceQuery
        ) | (Channel::Control, BusPayload::Control(_))
    );
    if !kind_fits {
        return Err(WireError::Body(
            "payload does not belong on its channel".into(),
        ));
    }
    Ok(BusMessage {
        origin: wire.o,
        channel,
        payload,
        sent_at: wire.t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip_and_foreign_names_are_refused() {
        for ch in [
            Channel::Doc(Arc::from("biz/1/ws/2/doc:x")),
            Channel::Topic(Arc::from("chat:biz/1/general")),
            Channel::Control,
        ] {
            let name = channel_name("go-test", &ch);
            assert_eq!(parse_channel("go-test", &name).unwrap(), ch);
            assert!(parse_channel("other", &name).is_err());
        }
        assert!(parse_channel("go", "go:x:thing").is_err());
    }

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let msg = BusMessage::update(7, Arc::from("d"), 42, Bytes::from_static(b"\x01\x02"));
        let back = decode(Channel::Doc(Arc::from("d")), &encode(&msg)).unwrap();
        assert_eq!(back.origin, 7);
        assert!(
            matches!(back.payload, BusPayload::Update { seq: 42, ref data } if &data[..] == b"\x01\x02")
        );
        let ev = BusMessage::new(
            1,
            Channel::Topic(Arc::from("t")),
            BusPayload::TopicEvent {
                seq: 3,
                at: 9,
                data: Arc::new(serde_json::json!({"n": u64::MAX, "s": "é"})),
            },
        );
        let back = decode(Channel::Topic(Arc::from("t")), &encode(&ev)).unwrap();
        match back.payload {
            BusPayload::TopicEvent { seq, data, .. } => {
                assert_eq!(seq, 3);
                assert_eq!(data["n"], serde_json::json!(u64::MAX));
            }
            other => panic!("unexpected {other:?}"),
        }
        let ctl = BusMessage::new(
            2,
            Channel::Control,
            BusPayload::Control(Control::EndSessions {
                user: "u".into(),
                auth_session: None,
                code: 4401,
                reason: "signed out".into(),
            }),
        );
        let back = decode(Channel::Control, &encode(&ctl)).unwrap();
        assert!(matches!(
            back.payload,
            BusPayload::Control(Control::EndSessions { code: 4401, .. })
        ));
        // An update on the control channel, garbage, and truncation are refused.
        assert!(decode(Channel::Control, &encode(&msg)).is_err());
        assert!(decode(Channel::Control, b"\xc1garbage").is_err());
        let full = encode(&ev);
        assert!(decode(Channel::Topic(Arc::from("t")), &full[..full.len() / 2]).is_err());
    }
}
