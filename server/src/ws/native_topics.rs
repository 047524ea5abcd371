//! Topics on the native dialect: `sub`, `unsub` and `presence` frames in;
//! `event`, `gap`, `subscribed`, `unsubscribed` and `presence` frames out.
//!
//! A `sub` is answered by a replay the connection loop drives one page at a
//! time between other frames (the dialect's `work`), each page written before
//! the next is read, so a long replay is paced by the client's socket and never
//! fills the outbound queue. `subscribed` follows the last replayed event; live
//! events follow it.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::ws::Message;
use bytes::Bytes;
use goonline_engine::outbound::Outbound;
use goonline_engine::topics::TopicBroadcast;
use goonline_engine::topics::subscription::ReplayStep;
use goonline_engine::{EngineError, Session};
use goonline_protocol::native::{self, ServerFrame};

use super::native::server_frame;

/// A connection's subscriptions, as the dialect tracks them.
#[derive(Default)]
pub(crate) struct TopicState {
    /// (membership id, topic) of every subscription, replaying or live.
    subs: Vec<(u64, Arc<str>)>,
    /// Subscriptions still replaying, served round-robin one page at a time.
    replaying: VecDeque<Arc<str>>,
}

/// An `error` frame about `topic`.
pub(crate) fn topic_error(e: &EngineError, re: Option<u64>, topic: &str) -> Message {
    server_frame(&ServerFrame::Error {
        code: e.code(),
        message: e.to_string(),
        re,
        doc: None,
        topic: Some(topic.to_string()),
    })
}

fn event_frame(b: &TopicBroadcast) -> Bytes {
    b.frame(|e| native::encode_event_frame(&e.topic, e.seq, e.at, &e.data))
}

impl TopicState {
    /// `sub {topic, since, id}`.
    pub(crate) async fn sub(
        &mut self,
        session: &mut Session,
        topic: String,
        since: Option<u64>,
        id: Option<u64>,
        out: &mut Vec<Message>,
    ) {
        match session.subscribe(&topic, since).await {
            Ok(member) => {
                let topic: Arc<str> = Arc::from(topic);
                self.subs.push((member, topic.clone()));
                self.replaying.push_back(topic);
            }
            Err(e) => out.push(topic_error(&e, id, &topic)),
        }
    }

    /// `unsub {topic}`: confirmed with `unsubscribed`.
    pub(crate) fn unsub(&mut self, session: &mut Session, topic: &str, out: &mut Vec<Message>) {
        match session.unsubscribe(topic) {
            Ok(()) => {
                self.forget(topic);
                out.push(server_frame(&ServerFrame::Unsubscribed {
                    topic: topic.to_string(),
                    reason: "unsubscribed at your request".into(),
                }));
            }
            Err(e) => out.push(topic_error(&e, None, topic)),
        }
    }

    /// `presence {topic, state}`.
    pub(crate) fn presence(
        &mut self,
        session: &mut Session,
        topic: &str,
        state: serde_json::Value,
        out: &mut Vec<Message>,
    ) {
        if let Err(e) = session.set_presence(topic, state) {
            out.push(topic_error(&e, None, topic));
        }
    }

    /// The server ended the subscription to `topic` (access revoked).
    pub(crate) fn ended(&mut self, topic: &str, reason: String, out: &mut Vec<Message>) {
        self.forget(topic);
        out.push(server_frame(&ServerFrame::Unsubscribed {
            topic: topic.to_string(),
            reason,
        }));
    }

    fn forget(&mut self, topic: &str) {
        self.subs.retain(|(_, t)| &**t != topic);
        self.replaying.retain(|t| &**t != topic);
    }

    /// Whether a replay is in progress.
    pub(crate) fn replaying(&self) -> bool {
        !self.replaying.is_empty()
    }

    /// One replay page of the first replaying subscription.
    pub(crate) async fn step(&mut self, session: &mut Session, out: &mut Vec<Message>) {
        let Some(topic) = self.replaying.pop_front() else {
            return;
        };
        match session.replay_step(&topic).await {
            Ok(ReplayStep::Batch { gap, events }) => {
                if let Some((from, to)) = gap {
                    out.push(server_frame(&ServerFrame::Gap {
                        topic: topic.to_string(),
                        from,
                        to,
                    }));
                }
                for e in &events {
                    out.push(Message::Binary(Bytes::from(native::encode_event_frame(
                        &e.topic, e.seq, e.at, &e.data,
                    ))));
                }
                // Round-robin: other replays get their page before this one's next.
                self.replaying.push_back(topic);
            }
            Ok(ReplayStep::Live { seq, presence }) => {
                out.push(server_frame(&ServerFrame::Subscribed {
                    topic: topic.to_string(),
                    seq,
                }));
                if !presence.is_empty() {
                    out.push(server_frame(&ServerFrame::Presence {
                        topic: topic.to_string(),
                        entries: presence,
                    }));
                }
            }
            Err(e) => {
                // The subscription is gone (the store failed): say so; the
                // client may subscribe again from what it has.
                self.forget(&topic);
                out.push(topic_error(&e, None, &topic));
                out.push(server_frame(&ServerFrame::Unsubscribed {
                    topic: topic.to_string(),
                    reason: e.to_string(),
                }));
            }
        }
    }

    /// Encodes a topic message for subscription `member`; messages of a
    /// subscription that has ended since they were queued are dropped.
    pub(crate) fn encode(&self, member: u64, msg: Outbound, out: &mut Vec<Message>) {
        if !self.subs.iter().any(|(m, _)| *m == member) {
            return;
        }
        match msg {
            Outbound::TopicEvent(b) => out.push(Message::Binary(event_frame(&b))),
            Outbound::TopicLatest(slot) => {
                if let Some(b) = slot.take() {
                    out.push(Message::Binary(event_frame(&b)));
                }
            }
            Outbound::TopicGap { topic, from, to } => out.push(server_frame(&ServerFrame::Gap {
                topic: topic.to_string(),
                from,
                to,
            })),
            Outbound::TopicPresence(p) => out.push(server_frame(&ServerFrame::Presence {
                topic: p.topic.to_string(),
                entries: p.entries.clone(),
            })),
            _ => {}
        }
    }
}
