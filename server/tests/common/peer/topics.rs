//! Topics over a native peer: `sub`/`unsub`/`presence`, and what arrived.

use goonline_protocol::native::{ClientFrame, ServerFrame};
use serde_json::Value;

use super::Peer;
use crate::common::WAIT;

impl Peer {
    /// Sends `sub` and waits for `subscribed` (or an error about the topic);
    /// returns whether it went live.
    pub async fn sub(&mut self, topic: &str, since: Option<u64>) -> bool {
        let (errors, frames) = (self.errors.len(), self.frames.len());
        self.send(
            ClientFrame::Sub {
                topic: topic.into(),
                since,
                id: None,
            }
            .encode(),
        )
        .await;
        let topic = topic.to_string();
        let live = |p: &Peer| {
            p.frames[frames..]
                .iter()
                .any(|f| matches!(f, ServerFrame::Subscribed { topic: t, .. } if *t == topic))
        };
        self.until(WAIT, |p| {
            live(p)
                || p.errors[errors..]
                    .iter()
                    .any(|e| matches!(e, ServerFrame::Error { topic: Some(t), .. } if *t == topic))
        })
        .await;
        live(self)
    }

    /// The `seq` of the last `subscribed` for `topic`.
    pub fn subscribed(&self, topic: &str) -> Option<u64> {
        self.frames.iter().rev().find_map(|f| match f {
            ServerFrame::Subscribed { topic: t, seq } if t == topic => Some(*seq),
            _ => None,
        })
    }

    /// `(seq, data)` of every `event` of `topic` so far, in arrival order.
    pub fn topic_events(&self, topic: &str) -> Vec<(u64, Value)> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Event {
                    topic: t,
                    seq,
                    data,
                    ..
                } if t == topic => Some((*seq, data.clone())),
                _ => None,
            })
            .collect()
    }

    /// The sequence numbers of the events of `topic`, in arrival order.
    pub fn topic_seqs(&self, topic: &str) -> Vec<u64> {
        self.topic_events(topic)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    /// Waits until `n` events of `topic` arrived.
    pub async fn until_events(&mut self, topic: &str, n: usize) -> bool {
        self.until(WAIT, |p| p.topic_events(topic).len() >= n).await
    }

    /// Sends `unsub`.
    pub async fn unsub(&mut self, topic: &str) {
        self.send(
            ClientFrame::Unsub {
                topic: topic.into(),
            }
            .encode(),
        )
        .await;
    }

    /// Sends `presence`.
    pub async fn presence(&mut self, topic: &str, state: Value) {
        self.send(
            ClientFrame::Presence {
                topic: topic.into(),
                state,
            }
            .encode(),
        )
        .await;
    }
}
