//! One session's subscription to a topic: replay from the store, then live.
//!
//! The replay reads pages of events after the client's `since`; the transport
//! asks for one page at a time ([`ReplayStep`]) and writes it before asking for
//! the next, so a client catching up on 100,000 events holds one page in memory
//! and is paced by its own socket. When a page comes back empty the
//! subscription tries to go live: that succeeds only if the topic's live head is
//! not past what the replay has read; otherwise it reads again. After going
//! live, the hub skips events the replay already sent.

use std::sync::Arc;
use std::time::Duration;

use goonline_protocol::native::PresenceEntry;

use super::hub::{GoLive, LiveTopic};
use super::{TopicError, TopicEvent, Topics, store};

/// Longest wait for the live head to catch up with what the store showed.
const HEAD_WAIT: Duration = Duration::from_millis(50);

/// What one replay step produced.
#[derive(Debug)]
pub enum ReplayStep {
    /// Events to send, in order, after a `gap` when some are no longer kept.
    Batch {
        /// Missing events `from..=to` (older than the retention).
        gap: Option<(u64, u64)>,
        /// Events.
        events: Vec<TopicEvent>,
    },
    /// The subscription is live: everything up to `seq` was sent.
    Live {
        /// The last sequence number sent.
        seq: u64,
        /// Who is present in the topic now.
        presence: Vec<PresenceEntry>,
    },
}

/// A session's subscription.
pub struct Subscription {
    /// Its membership id (tags its messages on the session's queue).
    pub member: u64,
    /// The topic.
    pub topic: Arc<str>,
    /// The last sequence number sent to the client.
    pub cursor: u64,
    /// Whether replay is over.
    pub live: bool,
    latest_value: bool,
    /// Whether the retention check has been made.
    checked_gap: bool,
    pub(crate) live_topic: Arc<LiveTopic>,
}

impl Subscription {
    pub(crate) fn new(
        member: u64,
        live_topic: Arc<LiveTopic>,
        since: u64,
        latest_value: bool,
    ) -> Subscription {
        Subscription {
            member,
            topic: live_topic.name.clone(),
            cursor: since,
            live: false,
            latest_value,
            checked_gap: false,
            live_topic,
        }
    }

    /// The next replay step. Errors are store failures: the subscription should
    /// be dropped and the client told to retry.
    pub async fn step(&mut self, topics: &Topics) -> Result<ReplayStep, TopicError> {
        let pool = topics.db().pool();
        loop {
            if self.latest_value {
                if !self.checked_gap {
                    // Only the newest value matters, never a backlog or a gap.
                    self.checked_gap = true;
                    if let Some(e) = store::newest(pool, &self.topic).await?
                        && e.seq > self.cursor
                    {
                        self.cursor = e.seq;
                        return Ok(ReplayStep::Batch {
                            gap: None,
                            events: vec![e],
                        });
                    }
                }
            } else {
                let mut gap = None;
                if !self.checked_gap {
                    self.checked_gap = true;
                    let (first, _) = store::bounds(pool, &self.topic).await?;
                    if self.cursor + 1 < first {
                        gap = Some((self.cursor + 1, first - 1));
                        self.cursor = first - 1;
                    }
                }
                let events =
                    store::read_after(pool, &self.topic, self.cursor, topics.config().page_size)
                        .await?;
                if let Some(first) = events.first()
                    && first.seq > self.cursor + 1
                {
                    // Trimmed while we were reading.
                    gap = Some((self.cursor + 1, first.seq - 1));
                }
                if let Some(last) = events.last() {
                    self.cursor = last.seq;
                }
                if gap.is_some() || !events.is_empty() {
                    return Ok(ReplayStep::Batch { gap, events });
                }
            }
            let advanced = self.live_topic.advanced.notified();
            match self.live_topic.go_live(self.member, self.cursor) {
                GoLive::Live(presence) => {
                    self.live = true;
                    return Ok(ReplayStep::Live {
                        seq: self.cursor,
                        presence,
                    });
                }
                GoLive::Behind => {
                    // Events were delivered live that the replay has not read:
                    // read again once the head moves (or shortly, regardless).
                    let _ = tokio::time::timeout(HEAD_WAIT, advanced).await;
                    if self.latest_value {
                        self.checked_gap = false;
                    }
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.live_topic.remove_sub(self.member);
    }
}
