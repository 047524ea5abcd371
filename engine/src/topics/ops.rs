//! `topic.events`: a page of a topic's history for clients that are not
//! connected (`GET /api/topics/{topic}/events?after=&limit=`, with the topic
//! name URL-encoded as one path segment: `biz%2Fb1%2Fchat%2Fgeneral`).
//!
//! The same access rule as `sub`. A page starts after `after` (0: from the
//! oldest kept); when `after` is older than the retention, the page says which
//! events are missing (`gap`) before the ones it has.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{TopicError, TopicEvent, TopicRefusal, Topics, store};
use crate::access::Principal;
use crate::ops::params::{lenient_i64, lenient_u32};
use crate::ops::{Ctx, HttpMethod, OpError, OpSpec, OpsBuilder, Permission};

/// Params of `topic.events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// The topic.
    pub topic: String,
    /// Events after this sequence number (default 0: from the oldest kept).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub after: Option<i64>,
    /// Most events to return (1..=500, default 100).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub limit: Option<u32>,
}

/// Missing events, older than the topic's retention.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Gap {
    /// First missing sequence number.
    pub from: u64,
    /// Last missing sequence number.
    pub to: u64,
}

/// A page of a topic's history.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryPage {
    /// The topic.
    pub topic: String,
    /// Events no longer kept between `after` and the first event here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// The events, in order.
    pub events: Vec<TopicEvent>,
    /// The topic's newest sequence number.
    pub last_seq: u64,
    /// Pass as `after` for the next page (equal to `last_seq` at the end).
    pub next_after: u64,
    /// Whether more events follow.
    pub more: bool,
}

/// The operation error for a topic error.
pub fn op_error(e: TopicError) -> OpError {
    match e {
        TopicError::BadName(b) => OpError::invalid("topic", b.0),
        TopicError::UnknownKind(k) => {
            OpError::NotFound(format!("no topic kind `{k}`: see docs/protocol.md, topics"))
        }
        TopicError::Refused(TopicRefusal::Unauthorized(m)) => OpError::Unauthorized(m),
        TopicError::Refused(TopicRefusal::Forbidden(m)) => OpError::Forbidden(m),
        TopicError::Refused(TopicRefusal::NotFound(m)) => OpError::NotFound(m),
        TopicError::Refused(TopicRefusal::Unavailable(m)) => OpError::Unavailable(m),
        e @ TopicError::Ahead { field, .. } => OpError::invalid(field, e.to_string()),
        e @ TopicError::NotLatestValue(_) => OpError::Internal(e.to_string()),
        TopicError::Db(e) => OpError::from_db("topics", e),
    }
}

impl Topics {
    /// A page of `topic`'s history for `who`.
    pub async fn history(
        &self,
        who: &Principal,
        topic: &str,
        after: u64,
        limit: u32,
    ) -> Result<HistoryPage, TopicError> {
        self.authorize(who, topic).await?;
        let pool = self.db().pool();
        let (first, last) = store::bounds(pool, topic).await?;
        if after > last {
            return Err(TopicError::Ahead {
                field: "after",
                value: after,
                topic: topic.to_string(),
                last,
            });
        }
        let name: Arc<str> = Arc::from(topic);
        let limit = limit.clamp(1, self.config().page_size);
        let events = store::read_after(pool, &name, after, limit).await?;
        let first_here = events.first().map_or(first.max(after + 1), |e| e.seq);
        let gap = (first_here > after + 1 && after < last).then(|| Gap {
            from: after + 1,
            to: first_here - 1,
        });
        let next_after = events
            .last()
            .map_or(after.max(first.saturating_sub(1)), |e| e.seq);
        Ok(HistoryPage {
            topic: topic.to_string(),
            gap,
            more: next_after < last,
            next_after,
            last_seq: last,
            events,
        })
    }

    /// Registers `topic.events`.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        let topics = self.clone();
        ops.register(
            OpSpec::read(
                "topic.events",
                "A page of a topic's events after a sequence number (topic URL-encoded in the path)",
                Permission::User,
            )
            .at(HttpMethod::Get, "/topics/{topic}/events"),
            move |ctx: Ctx, p: HistoryParams| {
                let topics = topics.clone();
                async move {
                    let after = match p.after {
                        None => 0,
                        Some(a) if a >= 0 => a as u64,
                        Some(_) => return Err(OpError::invalid("after", "must be 0 or more")),
                    };
                    let limit = p.limit.unwrap_or(100);
                    if limit == 0 || limit > topics.config().page_size {
                        return Err(OpError::invalid(
                            "limit",
                            format!("must be 1 to {}", topics.config().page_size),
                        ));
                    }
                    let who = Principal {
                        session_id: String::new(),
                        user: Some(ctx.user()?.clone()),
                    };
                    topics
                        .history(&who, &p.topic, after, limit)
                        .await
                        .map_err(op_error)
                }
            },
        );
    }
}
