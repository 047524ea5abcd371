//! Channels and direct chats: creating a channel, opening (getting or
//! creating) the direct chat between two members, the caller's list with
//! unread counts, and the business's chat settings.

use serde_json::json;

use super::access::{CHAT_COLS, ChatRow};
use super::types::{ChatInfo, ChatList, ChatSummary, CreateChannel, OpenDirect, Settings};
use super::{Chat, db_err, seq_of};
use crate::audit::{AuditEvent, AuditLog, Outcome};
use crate::now_ms;
use crate::ops::{Ctx, OpError};
use crate::sql_store::begin_write;
use crate::tenancy::store::role_in;

/// Most unread messages counted per chat (more show as this many).
pub const UNREAD_CAP: i64 = 1000;

impl Chat {
    /// `chat.channel.create`.
    pub(super) async fn create_channel(
        &self,
        ctx: &Ctx,
        p: CreateChannel,
    ) -> Result<ChatInfo, OpError> {
        let me = ctx.user()?.id.clone();
        let business = p.business_id.as_str();
        let name = p.name.as_str();
        let chat = ChatRow {
            id: uuid::Uuid::now_v7().to_string(),
            business_id: business.to_string(),
            kind: "channel".into(),
            name: Some(name.to_string()),
            topic: format!("biz/{business}/chat/{name}"),
            member_a: None,
            member_b: None,
            created_by: me,
            created_at: now_ms(),
        };
        // Any unique index (name, topic) refusing it means the name is taken.
        let added = sqlx::query(
            "INSERT INTO chats (id, business_id, kind, name, topic, created_by, created_at) \
             VALUES ($1, $2, 'channel', $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&chat.id)
        .bind(business)
        .bind(name)
        .bind(&chat.topic)
        .bind(&chat.created_by)
        .bind(chat.created_at)
        .execute(self.db().pool())
        .await
        .map_err(db_err("chat.channel.create"))?
        .rows_affected();
        if added == 0 {
            return Err(OpError::Conflict(format!(
                "this business already has a channel named `{name}`"
            )));
        }
        Ok(chat.info())
    }

    /// `chat.direct.open`: the direct chat between the caller and `user_id`,
    /// created on first use. Opening it from both sides at once yields one chat.
    pub(super) async fn open_direct(&self, ctx: &Ctx, p: OpenDirect) -> Result<ChatInfo, OpError> {
        let me = ctx.user()?.id.clone();
        let business = p.business_id.as_str();
        let other = p.user_id.as_str();
        if other == me {
            return Err(OpError::invalid(
                "user_id",
                "a direct chat is with another member, not yourself",
            ));
        }
        let member = role_in(self.db(), business, other)
            .await
            .map_err(db_err("role lookup"))?;
        if member.is_none() {
            return Err(OpError::NotFound(format!(
                "`{other}` is not a member of this business"
            )));
        }
        let (a, b) = if me.as_str() < other {
            (me.as_str(), other)
        } else {
            (other, me.as_str())
        };
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO chats (id, business_id, kind, topic, member_a, member_b, created_by, created_at) \
             VALUES ($1, $2, 'direct', $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(business)
        .bind(format!("biz/{business}/dm/{id}"))
        .bind(a)
        .bind(b)
        .bind(&me)
        .bind(now_ms())
        .execute(self.db().pool())
        .await
        .map_err(db_err("chat.direct.open"))?;
        let row = sqlx::query(&format!(
            "SELECT {CHAT_COLS} FROM chats c WHERE c.business_id = $1 AND c.kind = 'direct' \
             AND c.member_a = $2 AND c.member_b = $3"
        ))
        .bind(business)
        .bind(a)
        .bind(b)
        .fetch_one(self.db().pool())
        .await
        .map_err(db_err("chat.direct.open"))?;
        Ok(ChatRow::from_row(&row, 0)
            .map_err(db_err("chat.direct.open"))?
            .info())
    }

    /// `chat.list`: the business's channels and the caller's direct chats,
    /// with the caller's read state.
    pub(super) async fn list(&self, ctx: &Ctx, business: &str) -> Result<ChatList, OpError> {
        let me = ctx.user()?.id.clone();
        // One query: each chat's newest message and the caller's unread count
        // (a capped range of the `(chat_id, seq)` index), not one per chat.
        let rows = sqlx::query(&format!(
            "SELECT {CHAT_COLS}, COALESCE(r.last_read_seq, 0), \
                    (SELECT MAX(m.seq) FROM messages m WHERE m.chat_id = c.id), \
                    (SELECT COUNT(*) FROM (SELECT 1 AS one FROM messages u \
                       WHERE u.chat_id = c.id AND u.seq > COALESCE(r.last_read_seq, 0) \
                         AND u.sender_id <> $2 AND u.deleted_at IS NULL LIMIT $3) AS unread) \
             FROM chats c LEFT JOIN chat_reads r ON r.chat_id = c.id AND r.user_id = $2 \
             WHERE c.business_id = $1 AND c.archived_at IS NULL \
               AND (c.kind = 'channel' OR c.member_a = $2 OR c.member_b = $2) \
             ORDER BY c.kind, c.name, c.created_at, c.id"
        ))
        .bind(business)
        .bind(&me)
        .bind(UNREAD_CAP)
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err("chat.list"))?;
        let mut chats = Vec::with_capacity(rows.len());
        for row in &rows {
            use sqlx::Row;
            let chat = ChatRow::from_row(row, 0).map_err(db_err("chat.list"))?;
            let last_read = seq_of(row.try_get(9).map_err(db_err("chat.list"))?);
            let last_seq: Option<i64> = row.try_get(10).map_err(db_err("chat.list"))?;
            let last_seq = last_seq.map_or(0, seq_of);
            let unread = seq_of(row.try_get(11).map_err(db_err("chat.list"))?);
            chats.push(ChatSummary {
                chat: chat.info(),
                last_seq,
                last_read_seq: last_read,
                unread,
            });
        }
        Ok(ChatList { chats })
    }

    /// Messages of `chat` after `after` sent by others than `user` and not
    /// deleted, up to [`UNREAD_CAP`]: a range of the `(chat_id, seq)` index.
    pub(super) async fn unread(&self, chat: &str, user: &str, after: u64) -> Result<u64, OpError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 AS one FROM messages \
               WHERE chat_id = $1 AND seq > $2 AND sender_id <> $3 AND deleted_at IS NULL \
               LIMIT $4) AS unread",
        )
        .bind(chat)
        .bind(after.min(i64::MAX as u64) as i64)
        .bind(user)
        .bind(UNREAD_CAP)
        .fetch_one(self.db().pool())
        .await
        .map_err(db_err("unread count"))?;
        Ok(seq_of(n))
    }

    /// `chat.settings.get`.
    pub(super) async fn settings(&self, business: &str) -> Result<Settings, OpError> {
        let allowed: Option<i64> =
            sqlx::query_scalar("SELECT chat_viewers_can_send FROM businesses WHERE id = $1")
                .bind(business)
                .fetch_optional(self.db().pool())
                .await
                .map_err(db_err("chat.settings.get"))?;
        Ok(Settings {
            business_id: business.to_string(),
            viewers_can_send: allowed.unwrap_or(0) != 0,
        })
    }

    /// `chat.settings.update`: the change and its audit entry in one
    /// transaction.
    pub(super) async fn update_settings(
        &self,
        ctx: &Ctx,
        business: &str,
        viewers_can_send: bool,
    ) -> Result<Settings, OpError> {
        let me = ctx.user()?.id.clone();
        let context = "chat.settings.update";
        let mut tx = begin_write(self.db().pool())
            .await
            .map_err(db_err(context))?;
        sqlx::query("UPDATE businesses SET chat_viewers_can_send = $1 WHERE id = $2")
            .bind(i32::from(viewers_can_send))
            .bind(business)
            .execute(&mut *tx)
            .await
            .map_err(db_err(context))?;
        let event = AuditEvent {
            actor: Some(&me),
            action: "chat.settings.updated",
            target: Some(business),
            outcome: Outcome::Ok,
            detail: json!({ "viewers_can_send": viewers_can_send }),
            ip: ctx.caller.ip.map(|i| i.to_string()),
        };
        AuditLog::append_in(&mut tx, &event)
            .await
            .map_err(db_err(context))?;
        tx.commit().await.map_err(db_err(context))?;
        Ok(Settings {
            business_id: business.to_string(),
            viewers_can_send,
        })
    }
}
