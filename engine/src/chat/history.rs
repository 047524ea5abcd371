//! History pages and read state.
//!
//! A page is one range of the `(chat_id, seq)` index read backwards
//! ([`HISTORY_PAGE_SQL`]) plus one lookup of those messages' reactions, however
//! long the chat: joining a channel of 100,000 messages reads 50 of them.
//! Read state is the newest sequence number a member has read; it only moves
//! forward.
//!
//! A page is read in one snapshot (one transaction; `REPEATABLE READ` on
//! Postgres, whose default gives each statement its own): its `topic_seq`,
//! messages, reactions and read mark all describe the same moment, so a
//! client that subscribes with `since = topic_seq` gets exactly the changes
//! the page does not show — a reaction made while the page was read is either
//! counted in it or an event after `topic_seq`, never both.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::access::message_from_row;
use super::types::{History, HistoryPage, MarkRead, Message, ReactionCount, ReadState};
use super::{Chat, db_err, seq_of};
use crate::now_ms;
use crate::ops::{Ctx, OpError};
use crate::sql_store::Dialect;
use crate::topics::ops::op_error;

/// Most messages per history page.
pub const MAX_PAGE: u32 = 100;
/// Messages per history page when the caller does not say.
pub const DEFAULT_PAGE: u32 = 50;

/// The history page query: messages of `$1` before sequence number `$2`,
/// newest first, at most `$3`.
pub const HISTORY_PAGE_SQL: &str = "SELECT m.id, m.chat_id, m.sender_id, m.body, m.client_id, \
     m.seq, m.created_at, m.edited_at, m.deleted_at, m.deleted_by FROM messages m \
     WHERE m.chat_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3";

/// The reactions of `ids` (messages not deleted) on `conn`, aggregated per
/// emoji, oldest first, with whether `me` gave each.
async fn reactions_on(
    conn: &mut AnyConnection,
    ids: &[String],
    me: &str,
) -> Result<HashMap<String, Vec<ReactionCount>>, OpError> {
    let mut out: HashMap<String, Vec<ReactionCount>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT message_id, emoji, COUNT(*), \
                MAX(CASE WHEN user_id = $1 THEN 1 ELSE 0 END), MIN(created_at) AS first_at \
         FROM message_reactions WHERE message_id IN ({}) \
         GROUP BY message_id, emoji ORDER BY first_at, emoji",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(me);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err("reactions"))?;
    for row in rows {
        let read = || -> Result<(String, ReactionCount), sqlx::Error> {
            let count: i64 = row.try_get(2)?;
            let mine: i64 = row.try_get(3)?;
            Ok((
                row.try_get(0)?,
                ReactionCount {
                    emoji: row.try_get(1)?,
                    count: seq_of(count),
                    mine: mine != 0,
                },
            ))
        };
        let (id, r) = read().map_err(db_err("reactions"))?;
        out.entry(id).or_default().push(r);
    }
    Ok(out)
}

/// The newest sequence number `user` has read in `chat` (0: none), on `conn`.
async fn last_read_on(conn: &mut AnyConnection, chat: &str, user: &str) -> Result<u64, OpError> {
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT last_read_seq FROM chat_reads WHERE chat_id = $1 AND user_id = $2",
    )
    .bind(chat)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err("read state"))?;
    Ok(seq.map_or(0, seq_of))
}

/// The newest sequence number of `topic` (0: no event yet), on `conn`: the
/// topics' own head (`Topics::bounds`), read in the caller's snapshot.
async fn topic_head_on(conn: &mut AnyConnection, topic: &str) -> Result<u64, OpError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM topics WHERE name = $1")
        .bind(topic)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err("chat.history"))?;
    Ok(seq.map_or(0, seq_of))
}

impl Chat {
    /// The reactions of `ids` (messages not deleted), aggregated per emoji,
    /// oldest first, with whether `me` gave each.
    pub(super) async fn reactions_of(
        &self,
        ids: &[String],
        me: &str,
    ) -> Result<HashMap<String, Vec<ReactionCount>>, OpError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self
            .db()
            .pool()
            .acquire()
            .await
            .map_err(db_err("reactions"))?;
        reactions_on(&mut conn, ids, me).await
    }

    /// `message` with its reactions as `me` sees them.
    pub(super) async fn with_reactions(
        &self,
        mut message: Message,
        me: &str,
    ) -> Result<Message, OpError> {
        if message.deleted_at.is_none() {
            message.reactions = self
                .reactions_of(std::slice::from_ref(&message.id), me)
                .await?
                .remove(&message.id)
                .unwrap_or_default();
        }
        Ok(message)
    }

    /// The newest sequence number `user` has read in `chat` (0: none).
    async fn last_read(&self, chat: &str, user: &str) -> Result<u64, OpError> {
        let mut conn = self
            .db()
            .pool()
            .acquire()
            .await
            .map_err(db_err("read state"))?;
        last_read_on(&mut conn, chat, user).await
    }

    /// `chat.history`.
    pub(super) async fn history(&self, ctx: &Ctx, p: History) -> Result<HistoryPage, OpError> {
        let me = ctx.user()?.id.clone();
        let limit = p.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(OpError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE}"),
            ));
        }
        let before = match p.before {
            None => i64::MAX,
            Some(b) if b >= 1 => b,
            Some(_) => return Err(OpError::invalid("before", "must be 1 or more")),
        };
        let (chat, _) = self.chat_for(&me, p.chat_id.as_str()).await?;
        let context = "chat.history";
        // One snapshot for the head, the page, its reactions and the read
        // mark (see the module comment). SQLite: a read transaction in WAL
        // mode sees the database as of its first read, until it ends.
        let mut tx = self.db().pool().begin().await.map_err(db_err(context))?;
        if self.db().dialect() == Dialect::Postgres {
            // Must come before any query of the transaction.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(db_err(context))?;
        }
        // A subscription from this head misses nothing the page does not show,
        // and gets nothing the page shows already.
        let topic_seq = topic_head_on(&mut tx, &chat.topic).await?;
        let rows = sqlx::query(HISTORY_PAGE_SQL)
            .bind(&chat.id)
            .bind(before)
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err(context))?;
        let mut messages = rows
            .iter()
            .map(|r| message_from_row(r, 0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(context))?;
        let more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        let live: Vec<String> = messages
            .iter()
            .filter(|m| m.deleted_at.is_none())
            .map(|m| m.id.clone())
            .collect();
        let mut reactions = reactions_on(&mut tx, &live, &me).await?;
        let last_read_seq = last_read_on(&mut tx, &chat.id, &me).await?;
        // Read only: committing just ends the snapshot.
        tx.commit().await.map_err(db_err(context))?;
        for m in &mut messages {
            m.reactions = reactions.remove(&m.id).unwrap_or_default();
        }
        let next_before = if more {
            messages.last().map(|m| m.seq)
        } else {
            None
        };
        Ok(HistoryPage {
            last_read_seq,
            chat_id: chat.id,
            topic: chat.topic,
            topic_seq,
            messages,
            next_before,
        })
    }

    /// `chat.read`: moves the caller's read mark forward to `seq` (never back).
    pub(super) async fn mark_read(&self, ctx: &Ctx, p: MarkRead) -> Result<ReadState, OpError> {
        let me = ctx.user()?.id.clone();
        let (chat, _) = self.chat_for(&me, p.chat_id.as_str()).await?;
        let (_, newest) = self.topics().bounds(&chat.topic).await.map_err(op_error)?;
        if p.seq > newest {
            return Err(OpError::invalid(
                "seq",
                format!("is {} but the newest in this chat is {newest}", p.seq),
            ));
        }
        sqlx::query(
            "INSERT INTO chat_reads (chat_id, user_id, last_read_seq, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (chat_id, user_id) DO UPDATE \
               SET last_read_seq = excluded.last_read_seq, updated_at = excluded.updated_at \
               WHERE chat_reads.last_read_seq < excluded.last_read_seq",
        )
        .bind(&chat.id)
        .bind(&me)
        .bind(p.seq as i64)
        .bind(now_ms())
        .execute(self.db().pool())
        .await
        .map_err(db_err("chat.read"))?;
        let last_read_seq = self.last_read(&chat.id, &me).await?;
        Ok(ReadState {
            unread: self.unread(&chat.id, &me, last_read_seq).await?,
            chat_id: chat.id,
            last_read_seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::access::MESSAGE_COLS;
    use super::*;

    #[test]
    fn the_page_query_reads_what_messages_are_made_from() {
        assert!(
            HISTORY_PAGE_SQL.contains(MESSAGE_COLS),
            "{HISTORY_PAGE_SQL}"
        );
    }
}
