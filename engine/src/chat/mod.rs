//! Chat panels on top of topics: channels (named, every member of the business
//! follows them) and direct chats (two members), their messages, edits,
//! deletions, reactions and read state.
//!
//! - [`types`]: params and results; [`values`]: self-checking values (message
//!   bodies kept exactly as given).
//! - [`access`]: the `chat` and `dm` topic kinds ([`register_kinds`]) and who
//!   may see a chat or a message.
//! - `chats`: channels, direct chats, the caller's list, the settings.
//! - `messages`: send, edit, delete, react.
//! - `history`: history pages and read state.
//! - `ops`: the operations' registration ([`Chat::register_ops`]).
//!
//! Messages are rows (`messages`), kept forever; each change also appends an
//! event to the chat's topic in the same transaction, published once it has
//! committed. A message's `seq` is the sequence number of its
//! `message.created` event, so history pages by the `(chat_id, seq)` index and
//! joining a channel costs one page, whatever its length.
//!
//! # Topics
//!
//! - `biz/{business_id}/chat/{channel_name}`: a channel; members of the business
//!   (any role) follow it, once the channel exists.
//! - `biz/{business_id}/dm/{chat_id}`: a direct chat; its two participants
//!   follow it while they are members.
//!
//! Both keep events 90 days by default (`--topic-retention` overrides); the
//! messages themselves stay in `chat.history`.
//!
//! # Events
//!
//! ```text
//! {"type":"message.created","message":{"id","chat_id","sender_id","body","created_at","client_id","seq"}}
//! {"type":"message.edited","message_id","body","edited_at"}
//! {"type":"message.deleted","message_id","deleted_at","deleted_by"}
//! {"type":"reaction.added","message_id","user_id","emoji"}
//! {"type":"reaction.removed","message_id","user_id","emoji"}
//! ```
//!
//! Events are appended only when something changed: a resent message (same
//! client id), an edit to the same text, a second delete or an existing
//! reaction append nothing. A deletion leaves a tombstone (empty body,
//! `deleted_at`, `deleted_by`) and drops the message's reactions.
//!
//! # Read state
//!
//! `chat.read` moves a member's mark to any sequence number of the chat's topic
//! up to its newest event (never back); `unread` counts messages after the mark
//! sent by others and not deleted, up to 1000.
//!
//! # Who may do what
//!
//! - `chat.channel.create`: members with role agent or above (viewers read).
//! - `chat.list`, `chat.direct.open`, `chat.settings.get`: any member.
//! - `chat.history`, `chat.read`: anyone who may see the chat (any member for a
//!   channel, the two participants for a direct chat).
//! - `chat.send`, `chat.edit`, `chat.react`: those who see the chat, except
//!   viewers unless the business allows it (`chat.settings.update`,
//!   `viewers_can_send`); edits by the sender only.
//! - `chat.delete`: the sender, or an owner or admin of the business
//!   (moderation, recorded in the audit log; direct chats they are not in
//!   stay out of reach).
//! - `chat.settings.update`: admins and owners.
//!
//! A chat or message the caller may not see is `not_found`, never revealing it
//! exists. Sends are limited per user (20 in a burst, refilled over 10 s); edits
//! and reactions share a looser limit (60 per 10 s); a refused call stores
//! nothing.

pub mod access;
mod chats;
mod history;
mod messages;
mod ops;
pub mod types;
pub mod values;

use std::sync::Arc;
use std::time::Duration;

pub use access::register_kinds;
pub use history::HISTORY_PAGE_SQL;

use crate::audit::AuditLog;
use crate::limits::RateLimiter;
use crate::ops::OpError;
use crate::sql_store::SqlStore;
use crate::tenancy::Role;
use crate::topics::Topics;

/// How often a user may send, edit and react.
#[derive(Debug, Clone, Copy)]
pub struct ChatLimits {
    /// Messages sent in a burst.
    pub send_burst: u32,
    /// Over how long a full burst refills.
    pub send_window: Duration,
    /// Edits and reactions in a burst.
    pub action_burst: u32,
    /// Over how long a full burst of them refills.
    pub action_window: Duration,
}

impl Default for ChatLimits {
    fn default() -> Self {
        ChatLimits {
            send_burst: 20,
            send_window: Duration::from_secs(10),
            action_burst: 60,
            action_window: Duration::from_secs(10),
        }
    }
}

struct Inner {
    db: SqlStore,
    topics: Topics,
    audit: AuditLog,
    sends: RateLimiter,
    actions: RateLimiter,
}

/// The chat service. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
}

impl Chat {
    /// Chat on `db`, appending events through `topics`, with the default limits.
    pub fn new(db: SqlStore, topics: Topics, audit: AuditLog) -> Chat {
        Chat::with_limits(db, topics, audit, ChatLimits::default())
    }

    /// Chat with other rate limits.
    pub fn with_limits(db: SqlStore, topics: Topics, audit: AuditLog, limits: ChatLimits) -> Chat {
        Chat {
            inner: Arc::new(Inner {
                db,
                topics,
                audit,
                sends: RateLimiter::new(limits.send_burst, limits.send_window),
                actions: RateLimiter::new(limits.action_burst, limits.action_window),
            }),
        }
    }

    fn db(&self) -> &SqlStore {
        &self.inner.db
    }

    fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    /// Refuses viewers unless `business` lets them send.
    async fn may_send(&self, business: &str, role: Role) -> Result<(), OpError> {
        if role >= Role::Agent {
            return Ok(());
        }
        let allowed: Option<i64> =
            sqlx::query_scalar("SELECT chat_viewers_can_send FROM businesses WHERE id = $1")
                .bind(business)
                .fetch_optional(self.db().pool())
                .await
                .map_err(db_err("chat settings"))?;
        if allowed.unwrap_or(0) != 0 {
            Ok(())
        } else {
            Err(OpError::Forbidden(
                "viewers may read this chat but not write in it; an admin can allow it \
                 (chat.settings.update, viewers_can_send)"
                    .into(),
            ))
        }
    }

    /// Takes a token from `limiter` for `user`.
    fn limit(limiter: &RateLimiter, user: &str, what: &str) -> Result<(), OpError> {
        limiter
            .check(user)
            .map_err(|retry_after| OpError::RateLimited {
                retry_after,
                message: format!("too many {what}; retry in {retry_after} s"),
            })
    }
}

fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

/// Sequence numbers are stored as BIGINT.
fn seq_of(v: i64) -> u64 {
    v.max(0) as u64
}
