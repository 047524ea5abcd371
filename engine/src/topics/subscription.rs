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
    /// Whether the first step (newest value, or gap check) was made.
    checked: bool,
    /// Whether the client gave `since` (without it, a trimmed start is no gap).
    explicit_since: bool,
    /// The oldest sequence number kept, when the subscribe already read it
    /// (the first step then need not read it again).
    first_kept: Option<u64>,
    pub(crate) live_topic: Arc<LiveTopic>,
}

impl Subscription {
    pub(crate) fn new(
        member: u64,
        live_topic: Arc<LiveTopic>,
        since: Option<u64>,
        latest_value: bool,
        first_kept: Option<u64>,
    ) -> Subscription {
        Subscription {
            member,
            topic: live_topic.name.clone(),
            cursor: since.unwrap_or(0),
            live: false,
            latest_value,
            checked: false,
            explicit_since: since.is_some(),
            first_kept,
            live_topic,
        }
    }

    /// The next replay step. Errors are store failures: the subscription should
    /// be dropped and the client told to retry. A step never waits long (at
    /// most 50 ms) and may produce nothing: the transport calls again,
    /// serving its other work in between.
    pub async fn step(&mut self, topics: &Topics) -> Result<ReplayStep, TopicError> {
        let pool = topics.db().pool();
        if !self.checked {
            self.checked = true;
            if let Some(step) = self.start(topics).await? {
                return Ok(step);
            }
        }
        if !self.latest_value {
            let events =
                store::read_after(pool, &self.topic, self.cursor, topics.config().page_size)
                    .await?;
            let gap = events
                .first()
                .filter(|first| first.seq > self.cursor + 1)
                // Trimmed while we were reading.
                .map(|first| (self.cursor + 1, first.seq - 1));
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
                Ok(ReplayStep::Live {
                    seq: self.cursor,
                    presence,
                })
            }
            GoLive::Behind => {
                // The live head is past what the store showed: events committed
                // since (read them next step), or no longer kept (skip them).
                let (first, last) = store::bounds(pool, &self.topic).await?;
                if self.cursor + 1 < first {
                    let gap = (!self.latest_value).then(|| (self.cursor + 1, first - 1));
                    self.cursor = first - 1;
                    return Ok(ReplayStep::Batch {
                        gap,
                        events: Vec::new(),
                    });
                }
                if self.latest_value && last > self.cursor {
                    // A newer value: read the newest again.
                    self.checked = false;
                }
                let _ = tokio::time::timeout(HEAD_WAIT, advanced).await;
                Ok(ReplayStep::Batch {
                    gap: None,
                    events: Vec::new(),
                })
            }
        }
    }

    /// The first step: the newest value of a latest-value topic, or the gap
    /// before the oldest event kept.
    async fn start(&mut self, topics: &Topics) -> Result<Option<ReplayStep>, TopicError> {
        let pool = topics.db().pool();
        if self.latest_value {
            // Only the newest value matters, never a backlog or a gap.
            return Ok(match store::newest(pool, &self.topic).await? {
                Some(e) if e.seq > self.cursor => {
                    self.cursor = e.seq;
                    Some(ReplayStep::Batch {
                        gap: None,
                        events: vec![e],
                    })
                }
                _ => None,
            });
        }
        let first = match self.first_kept.take() {
            Some(first) => first,
            None => store::bounds(pool, &self.topic).await?.0,
        };
        if self.cursor + 1 >= first {
            return Ok(None);
        }
        let gap = (self.cursor + 1, first - 1);
        self.cursor = first - 1;
        // Without `since` the client asked for what is kept: nothing is missing.
        Ok(self.explicit_since.then_some(ReplayStep::Batch {
            gap: Some(gap),
            events: Vec::new(),
        }))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.live_topic.remove_sub(self.member);
    }
}
