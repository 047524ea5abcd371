//! Who may see a chat: the `chat` and `dm` topic kinds (subscriptions and
//! `topic.events`), and the same rule for operations that name a chat or a
//! message.
//!
//! - A channel: any member of its business (any role).
//! - A direct chat: its two participants, while they are members.
//!
//! Operations answer `not_found` to anyone else, so a chat's existence is not
//! revealed. A subscription by a non-member is `forbidden` (as for every
//! business topic); to a channel that does not exist, or to a direct chat the
//! caller is not in, it is `unknown_topic`.

use std::sync::Arc;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::types::{ChatInfo, Message, ReactionCount};
use super::{Chat, db_err, seq_of};
use crate::access::Principal;
use crate::ops::{BoxFuture, OpError};
use crate::sql_store::SqlStore;
use crate::tenancy::Role;
use crate::tenancy::store::role_in;
use crate::topics::kinds::owner_check;
use crate::topics::{Retention, TopicAccess, TopicKind, TopicKinds, TopicName, TopicRefusal};

/// Default retention of chat events, 90 days (messages themselves are kept
/// forever).
pub const DEFAULT_RETENTION: Retention = Retention {
    max_age: Some(std::time::Duration::from_secs(90 * 86_400)),
    max_events: None,
};

/// Registers the `chat` and `dm` topic kinds (before `Topics::start`).
pub fn register_kinds(kinds: &mut TopicKinds, db: &SqlStore) {
    let retention = DEFAULT_RETENTION;
    kinds.register(TopicKind {
        name: "chat",
        retention,
        latest_value: false,
        access: Arc::new(ChannelAccess { db: db.clone() }),
    });
    kinds.register(TopicKind {
        name: "dm",
        retention,
        latest_value: false,
        access: Arc::new(DirectAccess { db: db.clone() }),
    });
}

fn unavailable(e: sqlx::Error) -> TopicRefusal {
    tracing::warn!(error = %e, "chat lookup failed");
    TopicRefusal::Unavailable("access could not be checked; retry".into())
}

/// `biz/{business_id}/chat/{name}`: members, once the channel exists.
struct ChannelAccess {
    db: SqlStore,
}

impl TopicAccess for ChannelAccess {
    fn check<'a>(
        &'a self,
        who: &'a Principal,
        topic: TopicName<'a>,
    ) -> BoxFuture<'a, Result<(), TopicRefusal>> {
        Box::pin(async move {
            owner_check(&self.db, who, topic).await?;
            let found: Option<String> = sqlx::query_scalar(
                "SELECT id FROM chats WHERE topic = $1 AND kind = 'channel' AND archived_at IS NULL",
            )
            .bind(topic.full)
            .fetch_optional(self.db.pool())
            .await
            .map_err(unavailable)?;
            match found {
                Some(_) => Ok(()),
                None => Err(TopicRefusal::NotFound(format!(
                    "no channel `{}` (create it with chat.channel.create)",
                    topic.rest
                ))),
            }
        })
    }
}

/// `biz/{business_id}/dm/{chat_id}`: its two participants, while members.
struct DirectAccess {
    db: SqlStore,
}

impl TopicAccess for DirectAccess {
    fn check<'a>(
        &'a self,
        who: &'a Principal,
        topic: TopicName<'a>,
    ) -> BoxFuture<'a, Result<(), TopicRefusal>> {
        Box::pin(async move {
            owner_check(&self.db, who, topic).await?;
            let me = who.user.as_ref().map(|u| u.id.as_str()).unwrap_or_default();
            let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT member_a, member_b FROM chats WHERE topic = $1 AND kind = 'direct'",
            )
            .bind(topic.full)
            .fetch_optional(self.db.pool())
            .await
            .map_err(unavailable)?;
            match row {
                Some((a, b)) if a.as_deref() == Some(me) || b.as_deref() == Some(me) => Ok(()),
                // Someone else's conversation looks like no conversation.
                _ => Err(TopicRefusal::NotFound(format!(
                    "no direct chat `{}`",
                    topic.rest
                ))),
            }
        })
    }
}

/// A `chats` row.
#[derive(Debug, Clone)]
pub(super) struct ChatRow {
    pub id: String,
    pub business_id: String,
    pub kind: String,
    pub name: Option<String>,
    pub topic: String,
    pub member_a: Option<String>,
    pub member_b: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

/// The columns [`ChatRow::from_row`] reads, for `chats c`.
pub(super) const CHAT_COLS: &str = "c.id, c.business_id, c.kind, c.name, c.topic, c.member_a, \
     c.member_b, c.created_by, c.created_at";

impl ChatRow {
    /// Reads [`CHAT_COLS`] starting at column `at`.
    pub fn from_row(row: &AnyRow, at: usize) -> Result<ChatRow, sqlx::Error> {
        Ok(ChatRow {
            id: row.try_get(at)?,
            business_id: row.try_get(at + 1)?,
            kind: row.try_get(at + 2)?,
            name: row.try_get(at + 3)?,
            topic: row.try_get(at + 4)?,
            member_a: row.try_get(at + 5)?,
            member_b: row.try_get(at + 6)?,
            created_by: row.try_get(at + 7)?,
            created_at: row.try_get(at + 8)?,
        })
    }

    /// Whether `user` (a member of its business) sees it.
    pub fn visible_to(&self, user: &str) -> bool {
        self.kind == "channel"
            || self.member_a.as_deref() == Some(user)
            || self.member_b.as_deref() == Some(user)
    }

    /// As the operations show it.
    pub fn info(&self) -> ChatInfo {
        let member_ids = match (&self.member_a, &self.member_b) {
            (Some(a), Some(b)) if self.kind == "direct" => Some(vec![a.clone(), b.clone()]),
            _ => None,
        };
        ChatInfo {
            id: self.id.clone(),
            business_id: self.business_id.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            topic: self.topic.clone(),
            member_ids,
            created_by: self.created_by.clone(),
            created_at: self.created_at,
        }
    }
}

/// The columns [`message_from_row`] reads, for `messages m`.
pub(super) const MESSAGE_COLS: &str = "m.id, m.chat_id, m.sender_id, m.body, m.client_id, m.seq, \
     m.created_at, m.edited_at, m.deleted_at, m.deleted_by";

/// Reads [`MESSAGE_COLS`] starting at column `at` (without reactions).
pub(super) fn message_from_row(row: &AnyRow, at: usize) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: row.try_get(at)?,
        chat_id: row.try_get(at + 1)?,
        sender_id: row.try_get(at + 2)?,
        body: row.try_get(at + 3)?,
        client_id: row.try_get(at + 4)?,
        seq: seq_of(row.try_get(at + 5)?),
        created_at: row.try_get(at + 6)?,
        edited_at: row.try_get(at + 7)?,
        deleted_at: row.try_get(at + 8)?,
        deleted_by: row.try_get(at + 9)?,
        reactions: Vec::<ReactionCount>::new(),
    })
}

impl Chat {
    /// The caller's role in `business`, `not_found` (naming `what`) when they
    /// are not a member.
    async fn member_role(&self, business: &str, user: &str, what: &str) -> Result<Role, OpError> {
        role_in(self.db(), business, user)
            .await
            .map_err(db_err("role lookup"))?
            .ok_or_else(|| OpError::NotFound(format!("{what} not found")))
    }

    /// The chat `chat_id` and `user`'s role in its business, if they see it.
    pub(super) async fn chat_for(
        &self,
        user: &str,
        chat_id: &str,
    ) -> Result<(ChatRow, Role), OpError> {
        let what = format!("chat `{chat_id}`");
        let row = sqlx::query(&format!("SELECT {CHAT_COLS} FROM chats c WHERE c.id = $1"))
            .bind(chat_id)
            .fetch_optional(self.db().pool())
            .await
            .map_err(db_err("chat lookup"))?
            .ok_or_else(|| OpError::NotFound(format!("{what} not found")))?;
        let chat = ChatRow::from_row(&row, 0).map_err(db_err("chat lookup"))?;
        let role = self.member_role(&chat.business_id, user, &what).await?;
        if !chat.visible_to(user) {
            return Err(OpError::NotFound(format!("{what} not found")));
        }
        Ok((chat, role))
    }

    /// The message `message_id`, its chat and `user`'s role, if they see it.
    pub(super) async fn message_for(
        &self,
        user: &str,
        message_id: &str,
    ) -> Result<(Message, ChatRow, Role), OpError> {
        let what = format!("message `{message_id}`");
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLS}, {CHAT_COLS} FROM messages m JOIN chats c ON c.id = m.chat_id \
             WHERE m.id = $1"
        ))
        .bind(message_id)
        .fetch_optional(self.db().pool())
        .await
        .map_err(db_err("message lookup"))?
        .ok_or_else(|| OpError::NotFound(format!("{what} not found")))?;
        let message = message_from_row(&row, 0).map_err(db_err("message lookup"))?;
        let chat = ChatRow::from_row(&row, 10).map_err(db_err("message lookup"))?;
        let role = self.member_role(&chat.business_id, user, &what).await?;
        if !chat.visible_to(user) {
            return Err(OpError::NotFound(format!("{what} not found")));
        }
        Ok((message, chat, role))
    }
}
