//! A topic follower for engine tests: a signed-in session that subscribes,
//! replays to live, and records every event, gap and presence change it gets,
//! in the order the client would see them.

use std::time::Duration;

use goonline_engine::ops::UserRef;
use goonline_engine::outbound::Outbound;
use goonline_engine::topics::subscription::ReplayStep;
use goonline_engine::{Engine, EngineError, Session, SessionEvents};
use goonline_protocol::native::PresenceEntry;
use serde_json::Value;

/// What a follower saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Event {
        topic: String,
        seq: u64,
        data: Value,
    },
    Gap {
        topic: String,
        from: u64,
        to: u64,
    },
    Live {
        topic: String,
        seq: u64,
    },
    Presence {
        topic: String,
        entries: Vec<PresenceEntry>,
    },
}

pub struct Follower {
    pub session: Session,
    pub events: SessionEvents,
    pub seen: Vec<Seen>,
}

impl Follower {
    /// A session signed in as `user`.
    pub fn connect(engine: &Engine, user: &str) -> Follower {
        let (mut session, events) = engine.connect().expect("connect");
        session.set_user(UserRef {
            id: user.to_string(),
            platform_admin: false,
            session: format!("s-{user}"),
        });
        Follower {
            session,
            events,
            seen: Vec::new(),
        }
    }

    /// Subscribes and replays until live (what a transport does).
    pub async fn subscribe(&mut self, topic: &str, since: Option<u64>) -> Result<(), EngineError> {
        self.session.subscribe(topic, since).await?;
        loop {
            match self.session.replay_step(topic).await? {
                ReplayStep::Batch { gap, events } => {
                    if let Some((from, to)) = gap {
                        self.seen.push(Seen::Gap {
                            topic: topic.into(),
                            from,
                            to,
                        });
                    }
                    for e in events {
                        self.seen.push(Seen::Event {
                            topic: topic.into(),
                            seq: e.seq,
                            data: (*e.data).clone(),
                        });
                    }
                }
                ReplayStep::Live { seq, presence } => {
                    self.seen.push(Seen::Live {
                        topic: topic.into(),
                        seq,
                    });
                    if !presence.is_empty() {
                        self.seen.push(Seen::Presence {
                            topic: topic.into(),
                            entries: presence,
                        });
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Records what is queued now.
    pub fn pump(&mut self) {
        while let Ok(d) = self.events.rx.try_recv() {
            self.record(d.msg);
        }
    }

    fn record(&mut self, msg: Outbound) {
        let event = |b: &goonline_engine::topics::TopicBroadcast| Seen::Event {
            topic: b.event.topic.to_string(),
            seq: b.event.seq,
            data: (*b.event.data).clone(),
        };
        match msg {
            Outbound::TopicEvent(b) => self.seen.push(event(&b)),
            Outbound::TopicLatest(slot) => {
                if let Some(b) = slot.take() {
                    self.seen.push(event(&b));
                }
            }
            Outbound::TopicGap { topic, from, to } => self.seen.push(Seen::Gap {
                topic: topic.to_string(),
                from,
                to,
            }),
            Outbound::TopicPresence(p) => self.seen.push(Seen::Presence {
                topic: p.topic.to_string(),
                entries: p.entries.clone(),
            }),
            _ => {}
        }
    }

    /// Waits until `pred` holds on what was seen, or `timeout` passes.
    pub async fn until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&[Seen]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.pump();
            if pred(&self.seen) {
                return true;
            }
            match tokio::time::timeout_at(deadline, self.events.rx.recv()).await {
                Ok(Some(d)) => self.record(d.msg),
                _ => return pred(&self.seen),
            }
        }
    }

    /// The sequence numbers of the events seen on `topic`, in order.
    pub fn seqs(&self, topic: &str) -> Vec<u64> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Event { topic: t, seq, .. } if t == topic => Some(*seq),
                _ => None,
            })
            .collect()
    }

    /// The data of the events seen on `topic`, in order.
    pub fn data(&self, topic: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Event { topic: t, data, .. } if t == topic => Some(data.clone()),
                _ => None,
            })
            .collect()
    }
}
