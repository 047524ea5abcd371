//! A session's topic subscriptions: subscribe (access checked), replay step by
//! step, presence, unsubscribe, and the re-check when the user's access changes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{AccessChange, AccessTarget, Session};
use crate::error::EngineError;
use crate::topics::subscription::{ReplayStep, Subscription};
use crate::topics::{TopicError, TopicRefusal, Topics};

/// The engine error for a topic error.
fn topic_error(e: TopicError) -> EngineError {
    match e {
        TopicError::BadName(b) => EngineError::UnknownTopic(b.to_string()),
        TopicError::UnknownKind(k) => EngineError::UnknownTopic(format!(
            "no topic kind `{k}` (known kinds are listed in docs/protocol.md)"
        )),
        TopicError::Refused(TopicRefusal::Unauthorized(m)) => EngineError::Unauthorized(m),
        TopicError::Refused(TopicRefusal::Forbidden(m)) => EngineError::Forbidden(m),
        TopicError::Refused(TopicRefusal::NotFound(m)) => EngineError::UnknownTopic(m),
        TopicError::Refused(TopicRefusal::Unavailable(m)) => EngineError::AccessUnavailable(m),
        e @ TopicError::Ahead { .. } => EngineError::InvalidArgument(e.to_string()),
        e @ (TopicError::NotLatestValue(_) | TopicError::Db(_)) => {
            tracing::warn!(error = %e, "topic store failed");
            EngineError::Unavailable("topics could not be read; retry".into())
        }
    }
}

impl Session {
    fn topics(&self) -> Result<Topics, EngineError> {
        self.engine
            .topics()
            .cloned()
            .ok_or_else(|| EngineError::UnknownTopic("this server has no topics".into()))
    }

    fn sub_position(&self, topic: &str) -> Option<usize> {
        self.subs.iter().position(|s| &*s.topic == topic)
    }

    /// Subscribes to `topic` from after `since` (from the oldest kept when
    /// `None`). Checks the name, the kind and access. The subscription then
    /// replays through [`Session::replay_step`] until it is live. Returns its
    /// membership id (which tags its live messages).
    pub async fn subscribe(&mut self, topic: &str, since: Option<u64>) -> Result<u64, EngineError> {
        let topics = self.topics()?;
        if self.sub_position(topic).is_some() {
            return Err(EngineError::AlreadySubscribed(topic.to_string()));
        }
        let max = topics.config().max_subscriptions;
        if self.subs.len() >= max {
            return Err(EngineError::TooManySubscriptions(max));
        }
        let kind = topics
            .authorize(&self.principal, topic)
            .await
            .map_err(topic_error)?;
        let latest_value = kind.latest_value;
        if self.engine.is_closing() {
            return Err(EngineError::ShuttingDown);
        }
        // `since` past the newest event: the client has something we never had.
        let mut first_kept = None;
        if let Some(since) = since {
            let (first, last) = topics.bounds(topic).await.map_err(topic_error)?;
            first_kept = Some(first);
            if since > last {
                return Err(EngineError::InvalidArgument(format!(
                    "`since` is {since} but topic `{topic}` has only {last} events"
                )));
            }
        }
        let member = self
            .engine
            .shared
            .next_session
            .fetch_add(1, Ordering::Relaxed);
        let tx = self.tx.for_member(member);
        let live = loop {
            let live = topics.hub().topic(topic);
            live.ensure_init()
                .await
                .map_err(|e| topic_error(e.into()))?;
            if live.add_sub(tx.clone(), latest_value) {
                break live;
            }
            // Evicted between lookup and join: look it up again.
            tokio::task::yield_now().await;
        };
        let sub = Subscription::new(member, live, since, latest_value, first_kept);
        self.subs.push(sub);
        Ok(member)
    }

    /// The next replay step of the subscription to `topic`. After
    /// [`ReplayStep::Live`] the subscription receives live events. A store
    /// failure ends the subscription (the client may subscribe again).
    pub async fn replay_step(&mut self, topic: &str) -> Result<ReplayStep, EngineError> {
        let topics = self.topics()?;
        let i = self
            .sub_position(topic)
            .ok_or_else(|| EngineError::NotSubscribed(topic.to_string()))?;
        match self.subs[i].step(&topics).await {
            Ok(step) => {
                if let ReplayStep::Batch { events, .. } = &step {
                    crate::metrics::add(
                        &topics.metrics().topic_events_replayed,
                        events.len() as u64,
                    );
                }
                Ok(step)
            }
            Err(e) => {
                self.subs.swap_remove(i);
                Err(topic_error(e))
            }
        }
    }

    /// Whether the session subscribes to `topic` (live or replaying).
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.sub_position(topic).is_some()
    }

    /// The topic of subscription `member`, if it is still held.
    pub fn subscription_topic(&self, member: u64) -> Option<&Arc<str>> {
        self.subs
            .iter()
            .find(|s| s.member == member)
            .map(|s| &s.topic)
    }

    /// Ends the subscription to `topic` (its presence is cleared for everyone).
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), EngineError> {
        match self.sub_position(topic) {
            Some(i) => {
                self.subs.swap_remove(i);
                Ok(())
            }
            None => Err(EngineError::NotSubscribed(topic.to_string())),
        }
    }

    /// Sets (or with `Null` clears) this session's presence in `topic`.
    /// Allowed for any subscriber, readers included: presence is not content.
    pub fn set_presence(
        &mut self,
        topic: &str,
        state: serde_json::Value,
    ) -> Result<(), EngineError> {
        let topics = self.topics()?;
        let i = self
            .sub_position(topic)
            .ok_or_else(|| EngineError::NotSubscribed(topic.to_string()))?;
        let Some(user) = self.principal.user.as_ref() else {
            return Err(EngineError::Unauthorized(
                "sign in to share presence".into(),
            ));
        };
        let size = state.to_string().len();
        let max = topics.config().max_presence_bytes;
        if size > max {
            return Err(EngineError::InvalidArgument(format!(
                "presence state of {size} bytes exceeds {max} bytes"
            )));
        }
        let sub = &self.subs[i];
        sub.live_topic
            .set_presence(sub.member, &user.id, state, topics.config().presence_ttl);
        Ok(())
    }

    /// Asks the topic access rules again about every subscription; ends those
    /// no longer allowed. Returns whether some check could not be made.
    pub(super) async fn recheck_subscriptions(&mut self, changes: &mut Vec<AccessChange>) -> bool {
        let Some(topics) = self.engine.topics().cloned() else {
            return false;
        };
        let mut unsure = false;
        let mut i = 0;
        while i < self.subs.len() {
            let topic = self.subs[i].topic.clone();
            match topics.authorize(&self.principal, &topic).await {
                Ok(_) => i += 1,
                Err(TopicError::Refused(TopicRefusal::Unavailable(_)) | TopicError::Db(_)) => {
                    unsure = true;
                    i += 1;
                }
                Err(e) => {
                    self.subs.swap_remove(i);
                    changes.push(AccessChange {
                        target: AccessTarget::Topic,
                        key: topic,
                        grant: None,
                        reason: e.to_string(),
                    });
                }
            }
        }
        unsure
    }
}
