//! Sending, editing, deleting and reacting to messages. Each change and its
//! topic event are one transaction; the event is published once it commits.
//!
//! A send is idempotent by the client's message id: a resend of the same
//! (chat, sender, client id) returns the stored message and appends nothing;
//! the same id with another text is a `conflict` (once a message was edited or
//! deleted, any resend of its id returns it as it is now).

use serde_json::json;

use super::access::{MESSAGE_COLS, message_from_row};
use super::types::{EditMessage, Message, React, Reacted, SendMessage};
use super::{Chat, db_err};
use crate::audit::{AuditEvent, AuditLog, Outcome};
use crate::limits::RateLimiter;
use crate::now_ms;
use crate::ops::{Ctx, OpError};
use crate::sql_store::begin_write;
use crate::tenancy::Role;
use crate::topics::ops::op_error;

/// Most different reactions one person may put on one message.
pub const MAX_REACTIONS_PER_PERSON: i64 = 20;

/// Gives a send's rate-limit token back when dropped armed: a send that
/// stored nothing (an error, or a lost race to the same client id) is free.
struct Refund<'a> {
    limiter: &'a RateLimiter,
    user: String,
    armed: bool,
}

impl Drop for Refund<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.limiter.refund(&self.user);
        }
    }
}

fn deleted() -> OpError {
    OpError::Conflict("this message was deleted".into())
}

impl Chat {
    /// The message `client_id` of `sender` in `chat`, if already stored.
    async fn by_client_id(
        &self,
        chat: &str,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<Message>, OpError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM messages m \
             WHERE m.chat_id = $1 AND m.sender_id = $2 AND m.client_id = $3"
        ))
        .bind(chat)
        .bind(sender)
        .bind(client_id)
        .fetch_optional(self.db().pool())
        .await
        .map_err(db_err("chat.send"))?;
        row.map(|r| message_from_row(&r, 0))
            .transpose()
            .map_err(db_err("chat.send"))
    }

    /// A resend: the stored message, unless its text differs.
    async fn resent(&self, stored: Message, body: &str, me: &str) -> Result<Message, OpError> {
        let changed_since = stored.edited_at.is_some() || stored.deleted_at.is_some();
        if stored.body != body && !changed_since {
            return Err(OpError::Conflict(format!(
                "client_id `{}` was already used for a message with another text; \
                 use a new client_id for a new message",
                stored.client_id
            )));
        }
        self.with_reactions(stored, me).await
    }

    /// `chat.send`.
    pub(super) async fn send(&self, ctx: &Ctx, p: SendMessage) -> Result<Message, OpError> {
        let me = ctx.user()?.id.clone();
        let (chat, role) = self.chat_for(&me, p.chat_id.as_str()).await?;
        let (client_id, body) = (p.client_id.as_str(), p.body.as_str());
        // A retry costs no rate-limit token and appends nothing; it is answered
        // even if the sender may no longer send (a role changed while the
        // message waited in an offline queue): it was accepted then.
        if let Some(stored) = self.by_client_id(&chat.id, &me, client_id).await? {
            return self.resent(stored, body, &me).await;
        }
        self.may_send(&chat.business_id, role).await?;
        Chat::limit(&self.inner.sends, &me, "messages")?;
        // Until a new message is stored, the token goes back on any way out.
        let mut refund = Refund {
            limiter: &self.inner.sends,
            user: me.clone(),
            armed: true,
        };
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = now_ms();
        let context = "chat.send";
        let mut tx = begin_write(self.db().pool())
            .await
            .map_err(db_err(context))?;
        let appended = self
            .topics()
            .append_about(&mut tx, &chat.topic, Some(&id), |seq| {
                json!({
                    "type": "message.created",
                    "message": {
                        "id": id, "chat_id": chat.id, "sender_id": me, "body": body,
                        "created_at": created_at, "client_id": client_id, "seq": seq,
                    },
                })
            })
            .await
            .map_err(op_error)?;
        let seq = appended.0.seq;
        let added = sqlx::query(
            "INSERT INTO messages (id, chat_id, sender_id, body, created_at, client_id, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (chat_id, sender_id, client_id) DO NOTHING",
        )
        .bind(&id)
        .bind(&chat.id)
        .bind(&me)
        .bind(body)
        .bind(created_at)
        .bind(client_id)
        .bind(seq.min(i64::MAX as u64) as i64)
        .execute(&mut *tx)
        .await
        .map_err(db_err(context))?
        .rows_affected();
        if added == 0 {
            // A concurrent send with the same client id won: drop our event.
            tx.rollback().await.map_err(db_err(context))?;
            let stored = self
                .by_client_id(&chat.id, &me, client_id)
                .await?
                .ok_or_else(|| OpError::Internal("a resent message vanished".into()))?;
            return self.resent(stored, body, &me).await;
        }
        tx.commit().await.map_err(db_err(context))?;
        refund.armed = false;
        self.topics().publish(appended);
        Ok(Message {
            id,
            chat_id: chat.id,
            sender_id: me,
            body: body.to_string(),
            client_id: client_id.to_string(),
            seq,
            created_at,
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
            reactions: Vec::new(),
        })
    }

    /// `chat.edit`: the sender changes the text of a message not deleted.
    pub(super) async fn edit(&self, ctx: &Ctx, p: EditMessage) -> Result<Message, OpError> {
        let me = ctx.user()?.id.clone();
        let (mut message, chat, role) = self.message_for(&me, p.message_id.as_str()).await?;
        if message.sender_id != me {
            return Err(OpError::Forbidden(
                "only its sender may edit a message".into(),
            ));
        }
        if message.deleted_at.is_some() {
            return Err(deleted());
        }
        self.may_send(&chat.business_id, role).await?;
        let body = p.body.as_str();
        if message.body == body {
            return self.with_reactions(message, &me).await;
        }
        Chat::limit(&self.inner.actions, &me, "edits and reactions")?;
        let edited_at = now_ms();
        let context = "chat.edit";
        let mut tx = begin_write(self.db().pool())
            .await
            .map_err(db_err(context))?;
        let changed = sqlx::query(
            "UPDATE messages SET body = $1, edited_at = $2 WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(body)
        .bind(edited_at)
        .bind(&message.id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(context))?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await.map_err(db_err(context))?;
            return Err(deleted());
        }
        let data = json!({
            "type": "message.edited", "message_id": message.id, "body": body,
            "edited_at": edited_at,
        });
        let appended = self
            .topics()
            .append_about(&mut tx, &chat.topic, Some(&message.id), |_| data)
            .await
            .map_err(op_error)?;
        tx.commit().await.map_err(db_err(context))?;
        self.topics().publish(appended);
        message.body = body.to_string();
        message.edited_at = Some(edited_at);
        self.with_reactions(message, &me).await
    }

    /// `chat.delete`: by the sender or a moderator (owner, admin); leaves a
    /// tombstone and drops the message's reactions. Deleting again changes
    /// nothing.
    pub(super) async fn delete(&self, ctx: &Ctx, message_id: &str) -> Result<Message, OpError> {
        let me = ctx.user()?.id.clone();
        let (mut message, chat, role) = self.message_for(&me, message_id).await?;
        let moderation = message.sender_id != me;
        if moderation && role < Role::Admin {
            return Err(OpError::Forbidden(
                "only its sender, or an owner or admin of the business, may delete a message"
                    .into(),
            ));
        }
        if message.deleted_at.is_some() {
            return Ok(message);
        }
        let deleted_at = now_ms();
        let context = "chat.delete";
        let mut tx = begin_write(self.db().pool())
            .await
            .map_err(db_err(context))?;
        let changed = sqlx::query(
            "UPDATE messages SET body = '', deleted_at = $1, deleted_by = $2 \
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(deleted_at)
        .bind(&me)
        .bind(&message.id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(context))?
        .rows_affected();
        if changed == 0 {
            // Deleted a moment ago by someone else: show it as it is.
            tx.rollback().await.map_err(db_err(context))?;
            let (message, _, _) = self.message_for(&me, message_id).await?;
            return Ok(message);
        }
        sqlx::query("DELETE FROM message_reactions WHERE message_id = $1")
            .bind(&message.id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(context))?;
        // The text goes from the stored events too (history, replays).
        self.topics()
            .redact_in(&mut tx, &chat.topic, &message.id)
            .await
            .map_err(op_error)?;
        if moderation {
            let event = AuditEvent {
                actor: Some(&me),
                action: "chat.message.deleted",
                target: Some(&message.id),
                outcome: Outcome::Ok,
                detail: json!({
                    "business_id": chat.business_id, "chat_id": chat.id,
                    "sender_id": message.sender_id, "role": role,
                }),
                ip: ctx.caller.ip.map(|i| i.to_string()),
            };
            AuditLog::append_in(&mut tx, &event)
                .await
                .map_err(db_err(context))?;
        }
        let data = json!({
            "type": "message.deleted", "message_id": message.id,
            "deleted_at": deleted_at, "deleted_by": me,
        });
        let appended = self
            .topics()
            .append_in(&mut tx, &chat.topic, data)
            .await
            .map_err(op_error)?;
        tx.commit().await.map_err(db_err(context))?;
        self.topics().publish(appended);
        message.body.clear();
        message.deleted_at = Some(deleted_at);
        message.deleted_by = Some(me);
        Ok(message)
    }

    /// `chat.react`: adds or removes the caller's reaction; an event only when
    /// that changed something.
    pub(super) async fn react(&self, ctx: &Ctx, p: React) -> Result<Reacted, OpError> {
        let me = ctx.user()?.id.clone();
        let (message, chat, role) = self.message_for(&me, p.message_id.as_str()).await?;
        if message.deleted_at.is_some() {
            return Err(deleted());
        }
        self.may_send(&chat.business_id, role).await?;
        Chat::limit(&self.inner.actions, &me, "edits and reactions")?;
        let emoji = p.emoji.as_str();
        let context = "chat.react";
        // The write comes first in the transaction (SQLite takes its write lock
        // there rather than failing to upgrade a read).
        let mut tx = begin_write(self.db().pool())
            .await
            .map_err(db_err(context))?;
        // Lock the message, still not deleted: a concurrent delete (which drops
        // the reactions) then runs wholly before or wholly after this.
        let live = sqlx::query("UPDATE messages SET id = id WHERE id = $1 AND deleted_at IS NULL")
            .bind(&message.id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(context))?
            .rows_affected();
        if live == 0 {
            tx.rollback().await.map_err(db_err(context))?;
            return Err(deleted());
        }
        let changed = if p.on {
            sqlx::query(
                "INSERT INTO message_reactions (message_id, user_id, emoji, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(&message.id)
            .bind(&me)
            .bind(emoji)
            .bind(now_ms())
        } else {
            sqlx::query(
                "DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 \
                 AND emoji = $3",
            )
            .bind(&message.id)
            .bind(&me)
            .bind(emoji)
        }
        .execute(&mut *tx)
        .await
        .map_err(db_err(context))?
        .rows_affected()
            > 0;
        if changed && p.on {
            let mine: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM message_reactions WHERE message_id = $1 AND user_id = $2",
            )
            .bind(&message.id)
            .bind(&me)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err(context))?;
            if mine > MAX_REACTIONS_PER_PERSON {
                tx.rollback().await.map_err(db_err(context))?;
                return Err(OpError::Conflict(format!(
                    "at most {MAX_REACTIONS_PER_PERSON} different reactions per person on a message"
                )));
            }
        }
        if changed {
            let kind = if p.on {
                "reaction.added"
            } else {
                "reaction.removed"
            };
            let data = json!({
                "type": kind, "message_id": message.id, "user_id": me, "emoji": emoji,
            });
            let appended = self
                .topics()
                .append_in(&mut tx, &chat.topic, data)
                .await
                .map_err(op_error)?;
            tx.commit().await.map_err(db_err(context))?;
            self.topics().publish(appended);
        } else {
            tx.rollback().await.map_err(db_err(context))?;
        }
        let reactions = self
            .reactions_of(std::slice::from_ref(&message.id), &me)
            .await?
            .remove(&message.id)
            .unwrap_or_default();
        Ok(Reacted {
            message_id: message.id,
            changed,
            reactions,
        })
    }
}
